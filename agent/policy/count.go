package policy

import "fmt"

// Calls counts calls for a refusal's or a flag's text: "1 live call",
// "2 live calls" (kind "live"), "1 call" (kind "").
func Calls(n int64, kind string) string {
	noun := "calls"
	if n == 1 {
		noun = "call"
	}
	if kind != "" {
		noun = kind + " " + noun
	}
	return fmt.Sprintf("%d %s", n, noun)
}
