// Package k8s holds the Kubernetes manifests of goodnet audit (an Indexed Job, a summarize
// Job, the shared volume and a pod to copy data in and out). Its test decodes them into the
// Kubernetes API types and checks what the command needs of them — no cluster needed.
package k8s

import (
	"os"
	"path"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"goodnet/audit"
)

// decode reads a manifest strictly (an unknown or misspelt field is an error) into v and
// checks its apiVersion and kind.
func decode(t *testing.T, file, apiVersion, kind string, v any, tm func() (string, string)) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if a, k := tm(); a != apiVersion || k != kind {
		t.Fatalf("%s: %s %s, want %s %s", file, a, k, apiVersion, kind)
	}
}

func readJob(t *testing.T, file string) *batchv1.Job {
	j := &batchv1.Job{}
	decode(t, file, "batch/v1", "Job", j, func() (string, string) { return j.APIVersion, j.Kind })
	return j
}

// the flags of goodnet audit (cmd/goodnet/audit.go) that take no value
var boolFlags = map[string]bool{"summarize": true, "quiet": true}

// auditFlags are the flags of goodnet audit; args must start with the subcommand.
var auditFlags = map[string]bool{"manifest": true, "out": true, "shard": true, "finetune-epochs": true, "device": true,
	"summarize": true, "quiet": true}

// flags parses a container's args as goodnet audit's command line.
func flags(t *testing.T, what string, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "audit" {
		t.Fatalf("%s: args %q do not run goodnet audit", what, args)
	}
	out := map[string]string{}
	for i := 1; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimPrefix(args[i], "--"), "=")
		if !strings.HasPrefix(args[i], "--") || !auditFlags[name] {
			t.Fatalf("%s: %q is not a flag of goodnet audit", what, args[i])
		}
		if !boolFlags[name] && !hasVal {
			if i+1 == len(args) {
				t.Fatalf("%s: --%s has no value", what, name)
			}
			i++
			val = args[i]
		}
		out[name] = val
	}
	return out
}

// mountFor returns the volume mount of c holding path p (a path of the container).
func mountFor(c corev1.Container, p string) *corev1.VolumeMount {
	for i, m := range c.VolumeMounts {
		if p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// claimOf returns the PersistentVolumeClaim a pod's volume named name uses.
func claimOf(t *testing.T, what string, spec corev1.PodSpec, name string) string {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == name {
			if v.PersistentVolumeClaim == nil {
				t.Fatalf("%s: volume %q is not a PersistentVolumeClaim", what, name)
			}
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	t.Fatalf("%s: no volume %q", what, name)
	return ""
}

// checkPaths checks that the manifest and DIR the command reads and writes lie on the shared
// volume, writable, and returns the claim.
func checkPaths(t *testing.T, what string, spec corev1.PodSpec, c corev1.Container, f map[string]string) string {
	t.Helper()
	claim := ""
	for _, flag := range []string{"manifest", "out"} {
		p := f[flag]
		if p == "" {
			t.Fatalf("%s: no --%s", what, flag)
		}
		if !path.IsAbs(p) {
			t.Errorf("%s: --%s %s is relative to the image's working directory, not on the volume", what, flag, p)
		}
		m := mountFor(c, p)
		if m == nil {
			t.Fatalf("%s: --%s %s is on no mounted volume (mounts: %+v)", what, flag, p, c.VolumeMounts)
		}
		if flag == "out" && m.ReadOnly {
			t.Errorf("%s: --out %s is on a read-only mount", what, p)
		}
		cl := claimOf(t, what, spec, m.Name)
		if claim != "" && cl != claim {
			t.Errorf("%s: the manifest and DIR are on different claims %s, %s", what, claim, cl)
		}
		claim = cl
	}
	return claim
}

func TestManifests(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{}
	decode(t, "pvc.yaml", "v1", "PersistentVolumeClaim", pvc, func() (string, string) { return pvc.APIVersion, pvc.Kind })
	rwx := false
	for _, m := range pvc.Spec.AccessModes {
		rwx = rwx || m == corev1.ReadWriteMany
	}
	if !rwx {
		t.Errorf("pvc.yaml: access modes %v: the shards on several nodes need ReadWriteMany", pvc.Spec.AccessModes)
	}

	// The audit: an Indexed Job whose pods each run shard JOB_COMPLETION_INDEX of completions.
	job := readJob(t, "audit-job.yaml")
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		mode := "unset"
		if s.CompletionMode != nil {
			mode = string(*s.CompletionMode)
		}
		t.Fatalf("audit-job.yaml: completionMode %s, want Indexed (JOB_COMPLETION_INDEX is set only then)", mode)
	}
	if s.Completions == nil || *s.Completions < 1 {
		t.Fatalf("audit-job.yaml: completions %v", s.Completions)
	}
	n := int(*s.Completions)
	if s.Parallelism == nil || *s.Parallelism < 1 || int(*s.Parallelism) > n {
		t.Errorf("audit-job.yaml: parallelism %v, want 1..completions (%d)", s.Parallelism, n)
	}
	if s.BackoffLimitPerIndex == nil {
		t.Errorf("audit-job.yaml: no backoffLimitPerIndex: a shard's failures would count against the whole Job")
	}
	if s.PodReplacementPolicy == nil || *s.PodReplacementPolicy != batchv1.Failed {
		t.Errorf("audit-job.yaml: podReplacementPolicy %v, want Failed (no second pod on a shard while the first stops)", s.PodReplacementPolicy)
	}
	spec := s.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("audit-job.yaml: restartPolicy %q, want Never (a pod failure policy needs it)", spec.RestartPolicy)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("audit-job.yaml: %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	if s.PodFailurePolicy != nil {
		for _, r := range s.PodFailurePolicy.Rules {
			if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != c.Name {
				t.Errorf("audit-job.yaml: a pod failure rule names container %q, not %q", *r.OnExitCodes.ContainerName, c.Name)
			}
			if r.OnExitCodes != nil && r.Action == batchv1.PodFailurePolicyActionFailJob {
				for _, v := range r.OnExitCodes.Values {
					if v == 1 || v == 130 || v == 143 {
						t.Errorf("audit-job.yaml: exit status %d fails the whole Job (1: a model failed, 130, 143: stopped by SIGINT, SIGTERM)", v)
					}
				}
			}
		}
	}
	f := flags(t, "audit-job.yaml", c.Args)
	if _, ok := f["summarize"]; ok {
		t.Fatalf("audit-job.yaml: runs --summarize")
	}
	if !strings.HasPrefix(f["shard"], "auto/") {
		t.Fatalf("audit-job.yaml: --shard %q, want auto/%d (from JOB_COMPLETION_INDEX)", f["shard"], n)
	}
	for _, i := range []int{0, n - 1} {
		env := func(k string) string {
			if k == audit.IndexEnv {
				return strconv.Itoa(i)
			}
			return ""
		}
		sh, err := audit.ParseShard(f["shard"], env)
		if err != nil || sh.N != n || sh.I != i {
			t.Errorf("audit-job.yaml: --shard %s with index %d is shard %v (%v); want %d/%d: N must be completions", f["shard"], i, sh, err, i, n)
		}
	}
	for _, e := range c.Env {
		if e.Name != audit.IndexEnv {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
			e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("audit-job.yaml: %s is set to something else than the pod's completion index: %+v", audit.IndexEnv, e)
		}
	}
	gpu := corev1.ResourceName("nvidia.com/gpu")
	if q, ok := c.Resources.Limits[gpu]; !ok || q.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("audit-job.yaml: limits %v, want nvidia.com/gpu: 1", c.Resources.Limits)
	}
	if q, ok := c.Resources.Requests[gpu]; ok && q.Cmp(c.Resources.Limits[gpu]) != 0 {
		t.Errorf("audit-job.yaml: GPU request %v differs from its limit (an extended resource's must not)", q.String())
	}
	if d := f["device"]; d != "" && d != "auto" && d != "gpu" {
		t.Errorf("audit-job.yaml: --device %s on a GPU pod", d)
	}
	claim := checkPaths(t, "audit-job.yaml", spec, c, f)
	if claim != pvc.Name {
		t.Errorf("audit-job.yaml: claim %q, but pvc.yaml makes %q", claim, pvc.Name)
	}

	// The summary: the same image, DIR and manifest, no GPU.
	sum := readJob(t, "summarize-job.yaml")
	if sum.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever && sum.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("summarize-job.yaml: restartPolicy %q", sum.Spec.Template.Spec.RestartPolicy)
	}
	if len(sum.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("summarize-job.yaml: %d containers", len(sum.Spec.Template.Spec.Containers))
	}
	sc := sum.Spec.Template.Spec.Containers[0]
	sf := flags(t, "summarize-job.yaml", sc.Args)
	if _, ok := sf["summarize"]; !ok {
		t.Fatalf("summarize-job.yaml: args %q lack --summarize", sc.Args)
	}
	if sf["out"] != f["out"] || sf["manifest"] != f["manifest"] {
		t.Errorf("summarize-job.yaml: --out %s --manifest %s, the audit's --out %s --manifest %s", sf["out"], sf["manifest"], f["out"], f["manifest"])
	}
	if _, ok := sf["shard"]; ok {
		t.Errorf("summarize-job.yaml: --shard with --summarize is a usage error")
	}
	if _, ok := sc.Resources.Limits[gpu]; ok {
		t.Errorf("summarize-job.yaml: asks for a GPU it does not use")
	}
	if sc.Image != c.Image {
		t.Errorf("summarize-job.yaml: image %s, the audit's %s", sc.Image, c.Image)
	}
	if cl := checkPaths(t, "summarize-job.yaml", sum.Spec.Template.Spec, sc, sf); cl != pvc.Name {
		t.Errorf("summarize-job.yaml: claim %q, want %q", cl, pvc.Name)
	}

	// The data pod mounts the claim where the jobs do.
	pod := &corev1.Pod{}
	decode(t, "data-pod.yaml", "v1", "Pod", pod, func() (string, string) { return pod.APIVersion, pod.Kind })
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("data-pod.yaml: %d containers", len(pod.Spec.Containers))
	}
	m := mountFor(pod.Spec.Containers[0], f["out"])
	if m == nil || m.MountPath != mountFor(c, f["out"]).MountPath || claimOf(t, "data-pod.yaml", pod.Spec, m.Name) != pvc.Name {
		t.Errorf("data-pod.yaml: does not mount %s at the audit's %s", pvc.Name, mountFor(c, f["out"]).MountPath)
	}
}
