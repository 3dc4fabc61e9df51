// Command fluxssa is benchmark B2: Flux's own apply engine, fluxcd/pkg/ssa's ResourceManager,
// driven the way kustomize-controller drives it for one Kustomization: ApplyAllStaged (CRDs and
// Namespaces first, waiting for them), then inventory-based prune (DeleteAll of what the previous
// inventory holds and the new set does not) and, with -wait, WaitForSet. The inventory is kept in a
// ConfigMap, where kustomize-controller keeps it in the Kustomization's status: one read and one
// write per run either way.
//
// Usage: fluxssa -kubeconfig FILE -name NAME -namespace NS [-prune] [-wait] [-qps N] DIR
// It reads every *.yaml file of DIR and prints one JSON line: {"seconds":..,"actions":{..}}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

const fieldManager = "kustomize-controller" // what Flux's applies are recorded as

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	name := flag.String("name", "", "inventory (Kustomization) name")
	namespace := flag.String("namespace", "default", "inventory namespace")
	prune := flag.Bool("prune", false, "delete what the previous inventory holds and DIR does not")
	wait := flag.Bool("wait", false, "wait for every applied object to be ready (kstatus)")
	concurrency := flag.Int("concurrency", 4, "concurrent SSA requests (kustomize-controller --concurrent-ssa)")
	qps := flag.Float64("qps", 50, "client-side rate limit (kustomize-controller --kube-api-qps, burst 300); 0: none")
	flag.Parse()
	if *kubeconfig == "" || *name == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fluxssa -kubeconfig FILE -name NAME -namespace NS [-prune] [-wait] DIR")
		os.Exit(2)
	}
	started := time.Now()
	actions, err := run(*kubeconfig, *name, *namespace, flag.Arg(0), *prune, *wait, *concurrency, float32(*qps))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fluxssa:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(map[string]any{"seconds": time.Since(started).Seconds(), "actions": actions})
	fmt.Println(string(out))
}

func readDir(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var objects []*unstructured.Unstructured
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		objs, err := ssautils.ReadObjects(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		objects = append(objects, objs...)
	}
	return objects, nil
}

func run(kubeconfig, name, namespace, dir string, prune, wait bool, concurrency int, qps float32) (map[string]int, error) {
	ctx := context.Background()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// kustomize-controller's client limits (--kube-api-qps 50, --kube-api-burst 300 by default).
	cfg.QPS, cfg.Burst = qps, 300
	if qps == 0 {
		cfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	kube, err := client.New(cfg, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, err
	}
	poller := polling.NewStatusPoller(kube, mapper, polling.Options{})
	manager := ssa.NewResourceManager(kube, poller, ssa.Owner{Field: fieldManager, Group: "kustomize.toolkit.fluxcd.io"})
	manager.SetConcurrency(concurrency)

	objects, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	manager.SetOwnerLabels(objects, name, namespace)

	opts := ssa.DefaultApplyOptions()
	// Roles in a stage of their own, before the RoleBindings that name them: the benchmark's
	// ServiceAccount has no `bind` verb, so the API server checks a RoleBinding against its Role
	// and refuses one whose Role is applied concurrently (kustomize-controller usually runs as
	// cluster-admin, which skips that check). clew orders them the same way.
	opts.CustomStageKinds = map[schema.GroupKind]struct{}{{Group: "rbac.authorization.k8s.io", Kind: "Role"}: {}}
	changes, err := manager.ApplyAllStaged(ctx, objects, opts)
	if err != nil {
		return nil, err
	}
	actions := map[string]int{}
	for _, entry := range changes.Entries {
		actions[string(entry.Action)]++
	}

	newSet := object.UnstructuredSetToObjMetadataSet(objects)
	versions := map[object.ObjMetadata]string{}
	for _, o := range objects {
		versions[object.UnstructuredToObjMetadata(o)] = o.GroupVersionKind().Version
	}
	old, err := readInventory(ctx, kube, name, namespace)
	if err != nil {
		return nil, err
	}
	if prune {
		// As kustomize-controller: the stale objects are the previous inventory's entries (ID and
		// version) that the new set does not hold.
		var stale []*unstructured.Unstructured
		for _, entry := range old {
			if newSet.Contains(entry.id) {
				continue
			}
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(entry.id.GroupKind.WithVersion(entry.version))
			u.SetName(entry.id.Name)
			u.SetNamespace(entry.id.Namespace)
			stale = append(stale, u)
		}
		deleted, err := manager.DeleteAll(ctx, stale, ssa.DefaultDeleteOptions())
		if err != nil {
			return nil, err
		}
		for _, entry := range deleted.Entries {
			actions[string(entry.Action)]++
		}
	}
	if err := writeInventory(ctx, kube, name, namespace, newSet, versions); err != nil {
		return nil, err
	}
	if wait {
		opts := ssa.DefaultWaitOptions()
		opts.Interval = time.Second
		if err := manager.WaitForSet(newSet, opts); err != nil {
			return nil, err
		}
	}
	return actions, nil
}

type entry struct {
	id      object.ObjMetadata
	version string
}

func inventoryName(name string) string { return name + "-flux-inventory" }

func readInventory(ctx context.Context, kube client.Client, name, namespace string) ([]entry, error) {
	cm := &corev1.ConfigMap{}
	err := kube.Get(ctx, client.ObjectKey{Namespace: namespace, Name: inventoryName(name)}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pairs [][2]string // [ID, version], as kustomize-controller's inventory entries
	if err := json.Unmarshal([]byte(cm.Data["entries"]), &pairs); err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(pairs))
	for _, pair := range pairs {
		meta, err := object.ParseObjMetadata(pair[0])
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{meta, pair[1]})
	}
	return entries, nil
}

func writeInventory(ctx context.Context, kube client.Client, name, namespace string, set object.ObjMetadataSet, versions map[object.ObjMetadata]string) error {
	ids := make([][2]string, 0, len(set))
	for _, meta := range set {
		ids = append(ids, [2]string{meta.String(), versions[meta]})
	}
	data, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetName(inventoryName(name))
	cm.SetNamespace(namespace)
	_ = unstructured.SetNestedStringMap(cm.Object, map[string]string{"entries": string(data)}, "data")
	return kube.Patch(ctx, cm, client.Apply, client.FieldOwner(fieldManager), client.ForceOwnership)
}
