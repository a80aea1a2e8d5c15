// Package instances (in directory instanceshost) is Nstance's template data with pvefleet's one
// addition, .Instance.Hostname; pvefleet uses it when the data it renders has a Hostname.
package instances

import base "pvefleet.test/go-oracle/instances"

type UserdataTemplateData struct {
	Cluster  base.ClusterData
	Server   base.ServerData
	Provider base.ProviderData
	Instance InstanceData
	Vars     map[string]string
	Image    map[string]string
	Nonce    string
}

type InstanceData struct {
	ID       string
	Kind     string
	Arch     string
	Type     string
	Hostname string
}
