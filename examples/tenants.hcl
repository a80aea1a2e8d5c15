# Several tenants sharing one cluster, each with its own groups; userdata templates use vars,
# if/else, index and whitespace trimming, and one is stored base64-encoded.
# Runs on the simulator as is: `pvefleet sim`.
cluster {
  id = "saas"
}

shard {
  id = "eu-1"
  infra {
    provider = "proxmox"
    region   = "eu"
    zone     = "eu-1a"
  }
  subnet_pools = {
    public  = ["vmbr0"]
    private = ["vmbr0.42"]
  }
}

defaults {
  args = {
    TemplateName = "debian-13-template"
    StoragePool  = "local-lvm"
    Cores        = 2
    Memory       = 2048
    DiskSize     = "20G"
  }
  vars = {
    Tier     = "standard"
    LogLevel = "info"
  }
}

template "web" {
  kind        = "web"
  arch        = "amd64"
  subnet_pool = "public"
  vars = {
    Port = "8080"
  }
  userdata {
    content = <<-EOT
      #cloud-config
      hostname: {{ .Instance.ID }}
      runcmd:
      {{- if eq .Vars.Tier "premium" }}
        - echo premium tenant {{ .Vars.Tenant }} > /etc/motd
      {{- else }}
        - echo tenant {{ .Vars.Tenant }} > /etc/motd
      {{- end }}
        - echo port={{ .Vars.Port }} level={{ .Vars.LogLevel }} >> /etc/app.env
    EOT
  }
}

template "api" {
  kind          = "api"
  arch          = "amd64"
  subnet_pool   = "private"
  instance_type = "cpu:4,memory:4096"
  userdata {
    content = <<-EOT
      #!/bin/bash
      # {{ .Cluster.ID }}/{{ .Server.Shard }} in {{ .Provider.Region }}/{{ .Provider.Zone }}
      echo {{ printf "%s-%s" .Vars.Tenant .Instance.Kind }} > /etc/role
      {{ if .Vars.Debug -}}
      set -x
      {{ end -}}
      exec /opt/api --tenant={{ index .Vars "Tenant" }}
    EOT
  }
}

template "batch" {
  kind        = "bat"
  arch        = "amd64"
  subnet_pool = "private"
  userdata {
    encoding = "base64"
    content  = "IyEvYmluL3NoCmVjaG8gImJhdGNoIHdvcmtlciB7eyAuSW5zdGFuY2UuSUQgfX0gZm9yIHt7IGluZGV4IC5WYXJzICJUZW5hbnQiIH19Igo="
  }
  args = {
    StartOnBoot  = true
  }
}

group "acme" "web" {
  template = "web"
  size     = 3
  vars = {
    Tenant = "acme"
    Tier   = "premium"
  }
}

group "acme" "api" {
  template = "api"
  size     = 2
  vars = {
    Tenant = "acme"
    Debug  = "yes"
  }
}

group "globex" "web" {
  template = "web"
  size     = 1
  vars = {
    Tenant = "globex"
  }
}

group "globex" "batch" {
  template = "batch"
  size     = 5
  vars = {
    Tenant = "globex"
  }
  args = {
    Memory = 4096
  }
}

group "initech" "api" {
  template      = "api"
  vars = {
    Tenant = "initech"
  }
  instance_type = "cpu:2,memory:2048,disk:40"
}
