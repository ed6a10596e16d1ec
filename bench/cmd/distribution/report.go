package main

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/redisflags/redisflags/bench/internal/fairness"
)

// sharePercents are the rollouts whose observed share the table shows.
var sharePercents = []int{1, 5, 10, 25, 50, 75, 90, 99}

// report is one measured distribution.
type report struct {
	config
	fairness.Summary
}

// binomialSD is the standard deviation a bucket's count has when subjects
// fall into buckets independently with probability 1/100.
func (r report) binomialSD() float64 {
	return math.Sqrt(float64(r.N) * 0.01 * 0.99)
}

func (r report) writeTable(out io.Writer) error {
	var w bytes.Buffer // one Write, so one error to check
	pValue := distuv.ChiSquared{K: fairness.NumBuckets - 1}.Survival(r.ChiSquare)
	fmt.Fprintf(&w, "flag %q, environment %q, %d subjects %q … %q\n\n",
		r.flagKey, r.env, r.N, r.prefix+"0", fmt.Sprint(r.prefix, r.N-1))
	fmt.Fprintf(&w, "bucket counts (expected %.1f each)\n", r.Mean)
	fmt.Fprintf(&w, "  min         %10d\n", r.Min)
	fmt.Fprintf(&w, "  max         %10d\n", r.Max)
	fmt.Fprintf(&w, "  mean        %10.1f\n", r.Mean)
	fmt.Fprintf(&w, "  stddev      %10.1f   binomial expectation %.1f\n", r.StdDev, r.binomialSD())
	fmt.Fprintf(&w, "chi-square    %10.2f   df 99; critical value %.2f at p=0.001; p-value %.4f\n\n",
		r.ChiSquare, fairness.ChiSquareCritical99, pValue)
	fmt.Fprintf(&w, "rollout   observed share   difference (points)\n")
	for _, p := range sharePercents {
		share := r.Share(p)
		fmt.Fprintf(&w, "%6d%%   %13.3f%%   %+8.3f\n", p, share, share-float64(p))
	}
	_, err := out.Write(w.Bytes())
	return err
}

// writePNG draws two panels: the count of every bucket with the expected
// count, and below it each bucket's deviation from the expected count with
// the ±2σ band a uniform hash stays inside about 95% of the time.
func (r report) writePNG(w io.Writer) error {
	counts := make(plotter.Values, fairness.NumBuckets)
	deviations := make(plotter.Values, fairness.NumBuckets)
	for i, c := range r.Counts {
		counts[i] = float64(c)
		deviations[i] = float64(c) - r.Mean
	}
	barColor := color.RGBA{R: 66, G: 133, B: 244, A: 255}
	lineColor := color.RGBA{R: 219, G: 68, B: 55, A: 255}

	top := plot.New()
	top.Title.Text = fmt.Sprintf("%s / %s: %s subjects in 100 buckets (χ² = %.1f, df 99)",
		r.flagKey, r.env, thousands(r.N), r.ChiSquare)
	top.Y.Label.Text = "subjects"
	top.X.Label.Text = "bucket"
	bars, err := plotter.NewBarChart(counts, vg.Points(3.5))
	if err != nil {
		return err
	}
	bars.Color, bars.LineStyle.Width = barColor, 0
	expected, err := horizontal(r.Mean, lineColor, nil)
	if err != nil {
		return err
	}
	top.Add(bars, expected)
	top.Legend.Add(fmt.Sprintf("expected %.0f", r.Mean), expected)
	top.Legend.Top = true
	top.Y.Min = 0
	top.Y.Max = math.Max(float64(r.Max), r.Mean) * 1.15

	bottom := plot.New()
	bottom.Title.Text = "count − expected"
	bottom.Y.Label.Text = "subjects"
	bottom.X.Label.Text = "bucket"
	devBars, err := plotter.NewBarChart(deviations, vg.Points(3.5))
	if err != nil {
		return err
	}
	devBars.Color, devBars.LineStyle.Width = barColor, 0
	sd := r.binomialSD()
	dashes := []vg.Length{vg.Points(4), vg.Points(3)}
	upper, err := horizontal(2*sd, lineColor, dashes)
	if err != nil {
		return err
	}
	lower, err := horizontal(-2*sd, lineColor, dashes)
	if err != nil {
		return err
	}
	zero, err := horizontal(0, color.Gray{Y: 100}, nil)
	if err != nil {
		return err
	}
	bottom.Add(devBars, zero, upper, lower)
	bottom.Legend.Add(fmt.Sprintf("±2σ (σ = %.1f)", sd), upper)
	bottom.Legend.Top = true
	limit := 4 * sd
	for _, d := range deviations {
		limit = math.Max(limit, math.Abs(d)*1.1)
	}
	bottom.Y.Min, bottom.Y.Max = -limit, limit

	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = -1, fairness.NumBuckets
		p.X.Tick.Marker = plot.ConstantTicks(bucketTicks())
	}

	const width, height = 10 * vg.Inch, 7 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110),
		vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Points(10), PadY: vg.Points(14),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12)}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// horizontal returns a line across all buckets at y.
func horizontal(y float64, c color.Color, dashes []vg.Length) (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: -1, Y: y}, {X: fairness.NumBuckets, Y: y}})
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1.5), dashes
	return l, nil
}

// bucketTicks labels every tenth bucket and marks the others.
func bucketTicks() []plot.Tick {
	ticks := make([]plot.Tick, 0, fairness.NumBuckets)
	for i := range fairness.NumBuckets {
		t := plot.Tick{Value: float64(i)}
		if i%10 == 0 || i == fairness.NumBuckets-1 {
			t.Label = fmt.Sprint(i)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// thousands formats n ≥ 0 with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
