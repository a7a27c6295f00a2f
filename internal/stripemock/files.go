package stripemock

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeFixtures copies the bundled fixtures into dir as edited by edit.
func writeFixtures(module, dir string, edit func(map[string]any)) (string, error) {
	b, err := os.ReadFile(filepath.Join(module, "embedded", "openapi", "fixtures3.json"))
	if err != nil {
		return "", err
	}
	var doc struct {
		Resources map[string]any `json:"resources"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return "", fmt.Errorf("fixtures3.json: %w", err)
	}
	edit(doc.Resources)
	out, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("edited fixtures: %w", err)
	}
	f := filepath.Join(dir, "fixtures.json")
	return f, os.WriteFile(f, out, 0o600)
}

// writeSpec writes into dir the bundled spec reduced to the paths under
// prefixes and the component schemas they reference, directly or not.
func writeSpec(module, dir string, prefixes []string) (string, error) {
	b, err := os.ReadFile(filepath.Join(module, "embedded", "openapi", "spec3.json"))
	if err != nil {
		return "", err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return "", fmt.Errorf("spec3.json: %w", err)
	}
	paths, _ := spec["paths"].(map[string]any)
	components, _ := spec["components"].(map[string]any)
	schemas, _ := components["schemas"].(map[string]any)
	if paths == nil || schemas == nil {
		return "", fmt.Errorf("spec3.json: no paths or components.schemas")
	}
	kept := map[string]any{}
	for p, v := range paths {
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				kept[p] = v
				break
			}
		}
	}
	if len(kept) == 0 {
		return "", fmt.Errorf("no path of the spec starts with %q", prefixes)
	}
	need := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					name, ok := strings.CutPrefix(s, "#/components/schemas/")
					if ok && !need[name] {
						need[name] = true
						walk(schemas[name])
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(kept)
	reduced := map[string]any{}
	for name := range need {
		reduced[name] = schemas[name]
	}
	spec["paths"] = kept
	components["schemas"] = reduced
	out, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	f := filepath.Join(dir, "spec.json")
	return f, os.WriteFile(f, out, 0o600)
}
