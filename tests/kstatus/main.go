// Command kstatus prints what the kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status),
// which Flux and Argo CD use, computes for Kubernetes objects.
//
// It reads JSON objects from stdin, one a line, and writes one JSON line for each:
// {"status": "Current", "message": "..."}, or {"error": "..."} when the object cannot be judged.
// It is a test instrument of the canary project, built by the tests (tests/kstatus.py).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type answer struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func judge(line []byte) answer {
	// Decoded as client-go decodes objects from the API server (integers stay int64).
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(line); err != nil {
		return answer{Error: fmt.Sprintf("not a Kubernetes object: %v", err)}
	}
	result, err := status.Compute(object)
	if err != nil {
		return answer{Error: err.Error()}
	}
	return answer{Status: string(result.Status), Message: result.Message}
}

func main() {
	input := bufio.NewScanner(os.Stdin)
	input.Buffer(make([]byte, 1<<20), 16<<20)
	output := json.NewEncoder(os.Stdout)
	for input.Scan() {
		if len(input.Bytes()) == 0 {
			continue
		}
		if err := output.Encode(judge(input.Bytes())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := input.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
