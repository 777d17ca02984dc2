package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/calltop/calltop/agent"
)

func writePriceFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPricesLaysTheFileOverTheDefaults(t *testing.T) {
	p, err := agent.LoadPrices(writePriceFile(t, "prices.json", `{"source":"our contract","models":{"gpt-realtime":{"text_in":3,"audio_out":50},"house-model":{"text_out":1}},"transcription":{"whisper-1":{"per_minute":0.005}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if pr, _ := p.Lookup("gpt-realtime"); pr.TextIn != 3 || pr.AudioOut != 50 || pr.TextOut != 0 {
		t.Errorf("gpt-realtime = %+v: want the file's prices, whole", pr)
	}
	if _, ok := p.Lookup("house-model"); !ok || p.Source != "our contract" || p.Transcription["whisper-1"].PerMinute != 0.005 {
		t.Errorf("prices = %+v", p)
	}
	if _, ok := p.Lookup("gpt-realtime-mini"); !ok {
		t.Error("a default the file does not name is gone")
	}
}

func TestLoadPricesRefusesMistakes(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"models":{"gpt-x":{"text_inn":4}}}`, `models: "gpt-x": unknown field "text_inn"`},
		{`{"models":{"gpt-x":{"text_in":-4}}}`, `models: "gpt-x": text_in is -4`},
		{`{"models":{"gpt-x":{"audio_out":"NaN"}}}`, `models: "gpt-x": audio_out: want a number, got string`},
		{`{"models":{"gpt-x":{"audio_out":NaN}}}`, `invalid character 'N'`},
		{`{"models":{"gpt-x":{"text_out":1e300}}}`, `models: "gpt-x": text_out is 1e+300`},
		{`{"models":{"gpt-x":null}}`, `models: "gpt-x": want an object`},
		{`{"transcription":{"whisper-1":{"per_minute":-0.1}}}`, `transcription: "whisper-1": per_minute is -0.1`},
		{`{"transcription":{"whisper-1":{"per_minut":0.1}}}`, `transcription: "whisper-1": unknown field "per_minut"`},
		{`{"model":{"gpt-x":{"text_in":4}}}`, `unknown field "model"`},
		{`{"models":[]}`, `models: want an object`},
		{`{"models":{}} {"models":{}}`, `more than one JSON value`},
	} {
		path := writePriceFile(t, "prices.json", tc.body)
		_, err := agent.LoadPrices(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadPrices(%s) = %v, want an error naming the file and %q", tc.body, err, tc.want)
		}
	}
}
