# pvefleet quickstart: one group of two small Debian VMs (1 core, 512 MiB, 4 GiB disk), cloned from
# debian-13-template on local-lvm and spread over the cluster's nodes (one VM per node).
# Runs on the simulator as is: `pvefleet sim` (3 nodes, local + local-lvm, vmbr0, the template).
# Validate with:  pvefleet validate -c examples/quickstart.hcl
cluster {
  id = "demo"
}

shard {
  id = "dev"
  infra {
    provider = "proxmox"
    region   = "dev"
    zone     = "deva"
    options = {
      cloud_init_iso_storage = "local"
    }
  }
  subnet_pools = {
    default = ["vmbr0"]
  }
}

defaults {
  args = {
    TemplateName = "debian-13-template"
    StoragePool  = "local-lvm"
    Bridge       = "vmbr0"
    Cores        = 1
    Memory       = 512
    DiskSize     = "4G"
  }
  vars = {
    Environment = "demo"
  }
}

template "web" {
  kind        = "web"
  arch        = "amd64"
  subnet_pool = "default"
  userdata {
    content = <<-EOT
      #cloud-config
      hostname: {{ .Instance.ID }}
      packages:
        - nginx
      write_files:
        - path: /var/www/html/index.html
          content: "{{ .Instance.ID }} in {{ .Cluster.ID }}/{{ .Server.Shard }} ({{ .Vars.Environment }})"
    EOT
  }
}

group "default" "web" {
  template = "web"
  size     = 2
}
