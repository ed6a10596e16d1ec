package experiment

import (
	"fmt"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// rateBars are a report's rates with their intervals, for gonum/plot.
type rateBars []Result

func (r rateBars) Len() int                { return len(r) }
func (r rateBars) XY(i int) (x, y float64) { return float64(i), 100 * r[i].Rate }
func (r rateBars) YError(i int) (lo, hi float64) {
	return 100 * (r[i].Rate - r[i].Low), 100 * (r[i].High - r[i].Rate)
}

// WritePNG draws the report as a PNG: one point per variant at its
// conversion rate (percent) with its confidence interval as error bars.
func (rep Report) WritePNG(w io.Writer, title string) error {
	if len(rep.Results) == 0 {
		return fmt.Errorf("experiment: nothing to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = fmt.Sprintf("conversion rate, %% (%.0f %% interval)", 100*(1-rep.Alpha))
	bars := rateBars(rep.Results)
	pts, err := plotter.NewScatter(bars)
	if err != nil {
		return fmt.Errorf("experiment: plot: %w", err)
	}
	errs, err := plotter.NewYErrorBars(bars)
	if err != nil {
		return fmt.Errorf("experiment: plot: %w", err)
	}
	p.Add(pts, errs, plotter.NewGrid())
	names := make([]string, len(rep.Results))
	for i, r := range rep.Results {
		names[i] = fmt.Sprintf("%s (n=%d)", r.Variant, r.Exposed)
		if r.Control {
			names[i] += " control"
		}
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	wt, err := p.WriterTo(6*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("experiment: plot: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}
