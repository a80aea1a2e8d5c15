# A three-node cluster: every node holds its own copy of the template under the same name
# (TemplateName is resolved per node), and the groups live on different VLANs of vmbr0.
# Needs storages ceph-vm and cephfs, debian-12-template and pool "fleet": on the simulator, run
#   pvefleet sim --topology examples/sim/multi-node.topology.json
cluster {
  id = "homelab"
}

shard {
  id = "pve-a"
  infra {
    provider = "proxmox"
    region   = "home"
    zone     = "rack-1"
    options = {
      insecure_tls                  = true
      cloud_init_iso_storage        = "cephfs"
      vmid_range                    = { min = 20000, max = 29999 }
      scheduler                     = "nstance"
      clone_concurrency_per_storage = 2
      memory_headroom               = 0.85
      cpu_overcommit                = 4
      full_clone                    = true
      shutdown_timeout              = "90s"
      scale_down_order              = "oldest"
      max_surge                     = 1
    }
  }
  # Subnet IDs are bridge[.vlan]; a group on a pool gets Bridge and VLANTag from it.
  subnet_pools = {
    frontend = ["vmbr0.100"]
    backend  = ["vmbr0.200"]
    mgmt     = ["vmbr1"]
  }
}

defaults {
  args = {
    TemplateName = "debian-13-template"
    StoragePool  = "ceph-vm"
    StartOnBoot  = true
    Pool         = "fleet"
  }
  vars = {
    Domain = "home.arpa"
  }
  userdata {
    content = <<-EOT
      #cloud-config
      fqdn: {{ .Instance.Hostname }}.{{ .Vars.Domain }}
      packages:
        - qemu-guest-agent
    EOT
  }
}

template "app" {
  kind          = "app"
  arch          = "amd64"
  instance_type = "cpu:2,memory:4096,disk:32"
  subnet_pool   = "frontend"
}

template "db" {
  kind          = "dbs"
  arch          = "amd64"
  instance_type = "cpu:4,memory:8192,disk:100"
  subnet_pool   = "backend"
  args = {
    TemplateName = "debian-12-template"
    DiskSize     = "120G"
  }
}

template "bastion" {
  kind = "bst"
  arch = "amd64"
  args = {
    Cores  = 1
    Memory = 1024
    Bridge = "vmbr1"
  }
}

group "prod" "app" {
  template = "app"
  size     = 4
}

group "prod" "db" {
  template = "db"
  size     = 2
}

group "prod" "bastion" {
  template = "bastion"
  size     = 1
  args = {
    VLANTag = 30
  }
}

group "staging" "app" {
  template      = "app"
  size          = 1
  instance_type = "cpu:1,memory:2048,disk:16"
}
