//! Plot (soak): ringpin's RSS and open descriptors over the run, as SVG.
//!
//! Owns: drawing one time series with the run's phases marked: the end of warm-up and the
//! end of the fault window as vertical lines, and each fault as a tick on the time axis.
//! Must not: compute statistics (verdict.rs does) or read files.
//! Invariants: the y axis starts at 0, so a flat line looks flat and growth is not
//! exaggerated by a cropped axis.

use plotters::prelude::*;

use super::sampler::Sample;

/// Figure size in pixels.
const FIGURE_SIZE: (u32, u32) = (960, 480);

/// What to draw around the series.
#[derive(Debug, Clone)]
pub(crate) struct Phases {
    pub(crate) warmup_end_s: f64,
    pub(crate) faults_end_s: f64,
    pub(crate) fault_times_s: Vec<f64>,
}

fn draw_error(e: impl std::fmt::Display) -> String {
    format!("drawing: {e}")
}

/// One series of `samples` (`value` of each) as SVG text.
pub(crate) fn time_series(
    samples: &[Sample],
    value: fn(&Sample) -> f64,
    title: &str,
    y_desc: &str,
    phases: &Phases,
) -> Result<String, String> {
    let t_max = samples.iter().map(|s| s.t_s).fold(1.0, f64::max);
    let t_min = samples.iter().map(|s| s.t_s).fold(0.0, f64::min);
    let y_max = samples.iter().map(value).fold(1.0, f64::max) * 1.15;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(t_min..t_max, 0.0..y_max)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the first publish")
            .y_desc(y_desc)
            .draw()
            .map_err(draw_error)?;
        let marks = [
            (phases.warmup_end_s, "end of warm-up", BLUE),
            (phases.faults_end_s, "end of faults", RED),
        ];
        for (t, label, color) in marks {
            chart
                .draw_series(LineSeries::new(
                    [(t, 0.0), (t, y_max)],
                    color.stroke_width(1),
                ))
                .map_err(draw_error)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        let ticks = phases
            .fault_times_s
            .iter()
            .map(|&t| PathElement::new(vec![(t, 0.0), (t, y_max * 0.03)], RED.stroke_width(2)));
        chart.draw_series(ticks).map_err(draw_error)?;
        let points = samples.iter().map(|s| (s.t_s, value(s)));
        chart
            .draw_series(LineSeries::new(points, BLACK.stroke_width(2)))
            .map_err(draw_error)?
            .label(title)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figure_names_its_series_and_phases() {
        let samples: Vec<Sample> = (0..30)
            .map(|t| Sample {
                t_s: f64::from(t),
                rss_bytes: 50 << 20,
                fds: 700,
                cpu_us: 0,
            })
            .collect();
        let phases = Phases {
            warmup_end_s: 5.0,
            faults_end_s: 20.0,
            fault_times_s: vec![7.0, 9.5],
        };
        let svg = time_series(
            &samples,
            |s| s.fds as f64,
            "open descriptors",
            "descriptors",
            &phases,
        )
        .expect("draws");
        assert!(svg.starts_with("<svg"));
        for text in ["open descriptors", "end of warm-up", "end of faults"] {
            assert!(svg.contains(text), "{text}");
        }
    }
}
