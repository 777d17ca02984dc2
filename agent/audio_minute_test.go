package agent

import (
	"math"
	"testing"
)

func TestAudioMinuteUSD(t *testing.T) {
	prices := DefaultPrices()
	for _, tc := range []struct {
		model string
		want  float64
	}{
		{"gpt-realtime", 0.096}, // 600×$32 + 1200×$64 per 1M
		{"gpt-realtime-2025-08-28", 0.096},
		{"gpt-realtime-mini", (600*10 + 1200*20) / 1e6},
		{"unknown-model", 0},
	} {
		if got := audioMinuteOf(prices, tc.model); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tc.model, got, tc.want)
		}
	}
	if audioMinuteOf(nil, "gpt-realtime") != 0 {
		t.Error("no price table: a price")
	}
}
