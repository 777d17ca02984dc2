package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strings"
)

// The chart's geometry, in SVG user units.
const (
	width, height = 760.0, 460.0
	left, right   = 70.0, 190.0 // margins; the legend sits in the right one
	top, bottom   = 58.0, 52.0
)

// series is one line: an implementation's p50 or p99.
type series struct {
	impl, color string
	p99         bool
}

var allSeries = []series{
	{"calltop", "#1b7f5f", false}, {"calltop", "#1b7f5f", true},
	{"fair", "#6a5fb0", false}, {"fair", "#6a5fb0", true},
	{"naive", "#c8550a", false}, {"naive", "#c8550a", true},
}

func (s series) metric() string {
	if s.p99 {
		return s.impl + "-p99-ms"
	}
	return s.impl + "-p50-ms"
}

// guide is a horizontal reference line.
type guide struct {
	ms    float64
	label string
}

var guides = []guide{{16.7, "one frame at 60 fps"}, {8, "goal: p99 ≤ 8 ms"}}

// chart draws the results as an SVG line chart with log axes: live calls
// across, frame time in ms up.
func chart(res *results, mode string) ([]byte, error) {
	sizes := res.sizes()
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range allSeries {
		for _, n := range sizes {
			if v, ok := res.median(n, s.metric()); ok && v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return nil, fmt.Errorf("no frame times (…-p50-ms, …-p99-ms) in the results")
	}
	for _, g := range guides {
		lo, hi = min(lo, g.ms), max(hi, g.ms)
	}
	// Whole decades around the data, so ticks fall on 1-2-5 values.
	yLo, yHi := math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	xLo, xHi := float64(sizes[0]), float64(sizes[len(sizes)-1])
	if xLo == xHi {
		xLo, xHi = xLo/2, xHi*2
	}
	px := func(calls float64) float64 {
		return left + (math.Log10(calls)-math.Log10(xLo))/(math.Log10(xHi)-math.Log10(xLo))*(width-left-right)
	}
	py := func(ms float64) float64 {
		return height - bottom - (math.Log10(ms)-math.Log10(yLo))/(math.Log10(yHi)-math.Log10(yLo))*(height-top-bottom)
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="#fff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">Dashboard frame time vs live calls (%s)</text>`+"\n", left, html.EscapeString(mode))
	fmt.Fprintf(&b, `<text x="%g" y="40" fill="#555">20,000 events/s, 60 frames/s, 200×50; a frame is decode + Update + View; log scales</text>`+"\n", left)

	// Grid and ticks.
	for d := yLo; d <= yHi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v > yHi*1.0001 {
				break
			}
			y := py(v)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", left, y, width-right, y)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#333">%s</text>`+"\n", left-6, y+4, trimFloat(v))
		}
	}
	for _, n := range sizes {
		x := px(float64(n))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x, top, x, height-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%s</text>`+"\n", x, height-bottom+16, thousands(n))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#888"/>`+"\n", left, top, width-left-right, height-top-bottom)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">live calls</text>`+"\n", left+(width-left-right)/2, height-12)
	fmt.Fprintf(&b, `<text transform="translate(18 %g) rotate(-90)" text-anchor="middle">frame time (ms)</text>`+"\n", top+(height-top-bottom)/2)

	for _, g := range guides {
		y := py(g.ms)
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#999" stroke-dasharray="2 3"/>`+"\n", left, y, width-right, y)
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" fill="#777" font-size="11" text-anchor="end">%s</text>`+"\n", width-right-4, y-4, html.EscapeString(g.label))
	}

	// The lines, then the legend.
	for i, s := range allSeries {
		var pts []string
		for _, n := range sizes {
			if v, ok := res.median(n, s.metric()); ok && v > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(n)), py(v)))
			}
		}
		dash := ""
		if s.p99 {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
			for _, p := range pts {
				xy := strings.Split(p, ",")
				fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
		}
		ly := top + 14 + float64(i)*20
		lx := width - right + 16
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+26, ly, s.color, dash)
		label := s.impl + " p50"
		if s.p99 {
			label = s.impl + " p99"
		}
		fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text>`+"\n", lx+32, ly+4, label)
	}
	b.WriteString("</svg>\n")
	return b.Bytes(), nil
}

// trimFloat prints a tick value without trailing zeros.
func trimFloat(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// thousands prints n with a comma every three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
