// Command floor-go is the benchmark's second floor (bench/README.md): the writes of S1 done by
// client-go, the client Kubernetes' own controllers use, over HTTP/2 with its defaults except
// the client-side rate limiter (off, as the best client would have it). It keeps one clientset
// for its whole life, so its connection is warm like a long-lived controller's, and takes its
// work from stdin, one JSON line each:
//
//	{"op":"prepare","verb":"create"|"update","bodies":[<Secret JSON>...]}  → {"ok":true}
//	{"op":"run","concurrency":16}  → {"ok":true,"ackedMs":…,"versions":[…]}
//
// "prepare" decodes the objects before anything is timed; "run" sends them all, at most
// `concurrency` at a time, and answers when the last write is acknowledged. The caller times the
// phase from the moment it sends "run" to the watch event of the last object, as it times nsync.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type command struct {
	Op          string            `json:"op"`
	Verb        string            `json:"verb"`
	Bodies      []json.RawMessage `json:"bodies"`
	Concurrency int               `json:"concurrency"`
}

type answer struct {
	Ok       bool     `json:"ok"`
	Error    string   `json:"error,omitempty"`
	AckedMs  float64  `json:"ackedMs,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the identity that writes")
	protobuf := flag.Bool("protobuf", false, "send and receive protobuf instead of JSON")
	flag.Parse()
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-go:", err)
		os.Exit(2)
	}
	config.QPS = -1
	config.UserAgent = "nsync-bench-floor-go"
	if *protobuf {
		config.ContentType = "application/vnd.kubernetes.protobuf"
	}
	clients, err := kubernetes.NewForConfig(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-go:", err)
		os.Exit(2)
	}

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := json.NewEncoder(os.Stdout)
	var verb string
	var objects []*corev1.Secret
	for in.Scan() {
		var cmd command
		if err := json.Unmarshal(in.Bytes(), &cmd); err != nil {
			_ = out.Encode(answer{Error: err.Error()})
			continue
		}
		switch cmd.Op {
		case "prepare":
			verb = cmd.Verb
			objects = make([]*corev1.Secret, len(cmd.Bodies))
			var failed error
			for i, body := range cmd.Bodies {
				objects[i] = &corev1.Secret{}
				if err := json.Unmarshal(body, objects[i]); err != nil {
					failed = err
					break
				}
			}
			if failed != nil {
				_ = out.Encode(answer{Error: failed.Error()})
			} else {
				_ = out.Encode(answer{Ok: true})
			}
		case "run":
			_ = out.Encode(run(clients, verb, objects, cmd.Concurrency))
		case "exit":
			return
		default:
			_ = out.Encode(answer{Error: "unknown op " + cmd.Op})
		}
	}
}

func run(clients *kubernetes.Clientset, verb string, objects []*corev1.Secret, concurrency int) answer {
	ctx := context.Background()
	versions := make([]string, len(objects))
	var next atomic.Int64
	var firstError atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	if concurrency < 1 {
		concurrency = 1
	}
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(objects) || firstError.Load() != nil {
					return
				}
				object := objects[i]
				secrets := clients.CoreV1().Secrets(object.Namespace)
				var written *corev1.Secret
				var err error
				if verb == "create" {
					written, err = secrets.Create(ctx, object, metav1.CreateOptions{FieldManager: "bench-floor"})
				} else {
					written, err = secrets.Update(ctx, object, metav1.UpdateOptions{FieldManager: "bench-floor"})
				}
				if err != nil {
					firstError.CompareAndSwap(nil, fmt.Sprintf("%s %s/%s: %v", verb, object.Namespace, object.Name, err))
					return
				}
				versions[i] = written.ResourceVersion
			}
		}()
	}
	wg.Wait()
	acked := float64(time.Since(start).Microseconds()) / 1000
	if message, failed := firstError.Load().(string); failed {
		return answer{Error: message}
	}
	return answer{Ok: true, AckedMs: acked, Versions: versions}
}
