// Command go-oracle renders text/template cases the way Nstance does —
// template.New(name).Option("missingkey=zero").Parse(src), then Execute over the template data —
// for pvefleet's differential test. Input on stdin: a JSON array of {name, src, data}; output on
// stdout: a JSON array of {ok, out (bytes, base64), err}, in the same order. One process serves
// all cases.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	base "pvefleet.test/go-oracle/instances"
	host "pvefleet.test/go-oracle/instanceshost"
)

type testCase struct {
	Name string          `json:"name"`
	Src  string          `json:"src"`
	Data json.RawMessage `json:"data"`
}

type result struct {
	OK  bool   `json:"ok"`
	Out []byte `json:"out"`
	Err string `json:"err,omitempty"`
}

func data(raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var probe struct {
		Instance map[string]json.RawMessage
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	if _, ok := probe.Instance["Hostname"]; ok {
		var d host.UserdataTemplateData
		err := json.Unmarshal(raw, &d)
		return d, err
	}
	var d base.UserdataTemplateData
	err := json.Unmarshal(raw, &d)
	return d, err
}

func render(c testCase) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = result{Err: fmt.Sprintf("panic: %v", r)}
		}
	}()
	d, err := data(c.Data)
	if err != nil {
		return result{Err: "bad data: " + err.Error()}
	}
	name := c.Name
	if name == "" {
		name = "userdata"
	}
	t, err := template.New(name).Option("missingkey=zero").Parse(c.Src)
	if err != nil {
		return result{Err: err.Error()}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return result{Err: err.Error()}
	}
	return result{OK: true, Out: buf.Bytes()}
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "go-oracle: reading cases:", err)
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = render(c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "go-oracle: writing results:", err)
		os.Exit(2)
	}
}
