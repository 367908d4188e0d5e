// Command kstatus prints what the kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status),
// which Flux uses, computes for Kubernetes objects; with -argocd-health FILE, what that Argo CD
// health script (Lua, run by gopher-lua as Argo CD runs it) says of them instead.
//
// It reads JSON objects from stdin, one a line, and writes one JSON line for each:
// {"status": "Current", "message": "..."}, or {"error": "..."} when the object cannot be judged.
// It is a test instrument of the canary project, built by the tests (tests/kstatus/judge.py).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type answer struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// decode reads one object as client-go decodes objects from the API server (integers int64).
func decode(line []byte) (*unstructured.Unstructured, error) {
	object := &unstructured.Unstructured{}
	if err := object.UnmarshalJSON(line); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	return object, nil
}

func kstatus(object *unstructured.Unstructured) answer {
	result, err := status.Compute(object)
	if err != nil {
		return answer{Error: err.Error()}
	}
	return answer{Status: string(result.Status), Message: result.Message}
}

// luaValue turns a decoded JSON value into Lua values, as Argo CD hands objects to its scripts.
func luaValue(state *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []interface{}:
		table := state.NewTable()
		for _, item := range v {
			table.Append(luaValue(state, item))
		}
		return table
	case map[string]interface{}:
		table := state.NewTable()
		for key, item := range v {
			table.RawSetString(key, luaValue(state, item))
		}
		return table
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

func argocd(script string, object *unstructured.Unstructured) answer {
	state := lua.NewState()
	defer state.Close()
	state.SetGlobal("obj", luaValue(state, object.Object))
	if err := state.DoString(script); err != nil {
		return answer{Error: err.Error()}
	}
	health, ok := state.Get(-1).(*lua.LTable)
	if !ok {
		return answer{Error: "the health script returned no table"}
	}
	return answer{
		Status:  lua.LVAsString(health.RawGetString("status")),
		Message: lua.LVAsString(health.RawGetString("message")),
	}
}

func main() {
	healthScript := flag.String("argocd-health", "", "an Argo CD health.lua to run instead of kstatus")
	flag.Parse()
	script := ""
	if *healthScript != "" {
		text, err := os.ReadFile(*healthScript)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		script = string(text)
	}
	input := bufio.NewScanner(os.Stdin)
	input.Buffer(make([]byte, 1<<20), 16<<20)
	output := json.NewEncoder(os.Stdout)
	for input.Scan() {
		if len(input.Bytes()) == 0 {
			continue
		}
		result := answer{}
		object, err := decode(input.Bytes())
		switch {
		case err != nil:
			result = answer{Error: err.Error()}
		case script != "":
			result = argocd(script, object)
		default:
			result = kstatus(object)
		}
		if err := output.Encode(result); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := input.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
