// Command check validates the deployment files of deploy/ as the programs
// that read them would:
//
//	helm template deploy/helm/odatagw | go run . k8s
//	go run . compose ../compose.yaml
//
// k8s decodes each YAML document strictly into its k8s.io/api type (a field
// the type lacks, or a value of the wrong type, is an error) and checks
// what the odatagw chart promises: a hardened pod with probes, and no
// Secret or secret value rendered. compose loads a Compose file with the
// Compose specification's own loader and schema.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// kinds maps apiVersion/kind to a new value of its type.
var kinds = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/Ingress":            func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: check k8s [FILE...] | check compose FILE | check monitoring RULES DASHBOARD")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "k8s":
		k8sMain(os.Args[2:])
	case "compose":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: check compose FILE")
			os.Exit(2)
		}
		if err := checkCompose(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "check compose:", err)
			os.Exit(1)
		}
	case "monitoring":
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, "usage: check monitoring RULES DASHBOARD")
			os.Exit(2)
		}
		err := checkRules(os.Args[2])
		if err == nil {
			err = checkDashboard(os.Args[3])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "check monitoring:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "check: unknown command", os.Args[1])
		os.Exit(2)
	}
}

func k8sMain(files []string) {
	var inputs []io.Reader
	for _, f := range files {
		file, err := os.Open(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer file.Close()
		inputs = append(inputs, file)
	}
	if len(inputs) == 0 {
		inputs = append(inputs, os.Stdin)
	}
	var all []byte
	for _, in := range inputs {
		b, err := io.ReadAll(in)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		all = append(append(all, b...), '\n')
	}
	counts, errs := Check(all)
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, "check k8s:", e)
	}
	var summary []string
	for k, n := range counts {
		summary = append(summary, fmt.Sprintf("%s %d", k, n))
	}
	fmt.Printf("%d objects checked (%s)\n", total(counts), strings.Join(sorted(summary), ", "))
	if len(errs) > 0 {
		os.Exit(1)
	}
}

// Check decodes every document strictly and checks the chart's promises.
func Check(stream []byte) (map[string]int, []error) {
	counts := map[string]int{}
	var errs []error
	for i, doc := range documents(stream) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		if string(js) == "null" {
			continue
		}
		json.Unmarshal(js, &head)
		key := head.APIVersion + "/" + head.Kind
		where := fmt.Sprintf("%s %q", key, head.Metadata.Name)
		if head.Kind == "Secret" {
			errs = append(errs, fmt.Errorf("%s: the chart renders a Secret; secrets must come from an existing one", where))
			continue
		}
		mk, ok := kinds[key]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not a kind this check knows", where))
			continue
		}
		obj := mk()
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if head.Metadata.Name == "" {
			errs = append(errs, fmt.Errorf("%s: no metadata.name", where))
		}
		if d, ok := obj.(*appsv1.Deployment); ok {
			for _, e := range checkDeployment(d) {
				errs = append(errs, fmt.Errorf("%s: %w", where, e))
			}
		}
		counts[head.Kind]++
	}
	return counts, errs
}

// checkDeployment checks the pod hardening and probes the chart promises.
func checkDeployment(d *appsv1.Deployment) []error {
	var errs []error
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		errs = append(errs, errors.New("the pod may run as root (runAsNonRoot)"))
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs = append(errs, errors.New("no RuntimeDefault seccomp profile"))
	}
	if len(d.Spec.Selector.MatchLabels) == 0 {
		errs = append(errs, errors.New("no selector"))
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			errs = append(errs, fmt.Errorf("container %s has no securityContext", c.Name))
			continue
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			errs = append(errs, fmt.Errorf("container %s: root filesystem writable", c.Name))
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			errs = append(errs, fmt.Errorf("container %s: privilege escalation allowed", c.Name))
		case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
			errs = append(errs, fmt.Errorf("container %s: capabilities not all dropped", c.Name))
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			errs = append(errs, fmt.Errorf("container %s: no readiness probe on /readyz", c.Name))
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			errs = append(errs, fmt.Errorf("container %s: no liveness probe on /healthz", c.Name))
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			errs = append(errs, fmt.Errorf("container %s: no CPU request or memory limit", c.Name))
		}
		for _, e := range c.Env {
			upper := strings.ToUpper(e.Name)
			secretish := strings.Contains(upper, "PASSWORD") || strings.Contains(upper, "TOKEN") || strings.Contains(upper, "SECRET")
			if secretish && e.Value != "" {
				errs = append(errs, fmt.Errorf("container %s: %s is given in plain text; take it from a Secret", c.Name, e.Name))
			}
		}
	}
	return errs
}

// documents splits a YAML stream at its "---" lines.
func documents(stream []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimRight(line, " ") == "---" {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.WriteString(line + "\n")
	}
	return append(docs, cur.Bytes())
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
