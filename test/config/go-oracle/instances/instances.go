// Package instances mirrors the template data types of Nstance's userdata rendering
// (internal/server/instances: UserdataTemplateData and its parts), so that %T, %#v and error
// messages name the same types.
package instances

type UserdataTemplateData struct {
	Cluster  ClusterData
	Server   ServerData
	Provider ProviderData
	Instance InstanceData
	Vars     map[string]string
	Image    map[string]string
	Nonce    string
}

type ClusterData struct {
	ID     string
	CACert string
}

type ServerData struct {
	Shard            string
	RegistrationAddr string
	AgentAddr        string
	OperatorAddr     string
}

type ProviderData struct {
	Kind   string
	Region string
	Zone   string
}

type InstanceData struct {
	ID   string
	Kind string
	Arch string
	Type string
}
