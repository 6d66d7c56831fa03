//! `plot`: SVG figures from loadgen report JSON files.
//!
//! `ringpin-loadgen plot --out DIR FILE.json...` writes two figures into DIR:
//! * `latency_cdf.svg`: one delivery-latency CDF per report, latency in µs on a log axis (tail
//!   latency spans orders of magnitude; a linear axis hides p50 against the max);
//! * `time_to_last_vs_n.svg`: `time_to_last_delivery_ms_max` against clients, one series per
//!   `target`, so ringpin, Pushpin and the kernel floor read as three lines in one picture.
//!
//! Owns: reading the few report fields the figures need, and drawing them.
//! Must not: compute statistics (the report already holds them) or read anything but its
//! arguments; figures are never edited by hand after a run (STYLE §12).
//! Invariants: a report that lacks a field the figures need is an error naming the file and the
//! field, never a silently missing line.

use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

const USAGE: &str = "usage: ringpin-loadgen plot --out DIR FILE.json...

  --out DIR   where latency_cdf.svg and time_to_last_vs_n.svg are written (created if missing)
  FILE.json   loadgen `run --json` reports, one or more";

/// Figure size in pixels.
const FIGURE_SIZE: (u32, u32) = (960, 600);
/// Latencies below this are drawn at it: a log axis has no zero.
const LATENCY_US_MIN: f64 = 1.0;

/// The fields of one report that the figures use.
#[derive(Debug, Clone, PartialEq)]
struct PlotReport {
    target: String,
    clients: u64,
    /// (latency µs, fraction of deliveries at or below it), in the report's order.
    cdf: Vec<(f64, f64)>,
    time_to_last_ms_max: f64,
}

impl PlotReport {
    fn label(&self) -> String {
        format!("{} {} clients", self.target, self.clients)
    }
}

/// Draws one figure from every report, as SVG text.
type DrawFn = fn(&[PlotReport]) -> Result<String, String>;

/// Runs `plot` with the arguments after the subcommand name.
pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let (out, files) = parse_args(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    let mut reports = Vec::with_capacity(files.len());
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        reports.push(parse_report(&text).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let figures: [(&str, DrawFn); 2] = [
        ("latency_cdf.svg", draw_latency_cdf),
        ("time_to_last_vs_n.svg", draw_time_to_last_vs_n),
    ];
    for (name, draw) in figures {
        let path = out.join(name);
        let svg = draw(&reports)?;
        std::fs::write(&path, svg).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn parse_args(args: &[String]) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let mut out = None;
    let mut files = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if let Some(value) = arg.strip_prefix("--out=") {
            out = Some(PathBuf::from(value));
        } else if arg == "--out" {
            out = Some(PathBuf::from(rest.next().ok_or("--out needs a value")?));
        } else if arg.starts_with("--") {
            return Err(format!("unknown option {arg:?}"));
        } else {
            files.push(PathBuf::from(arg));
        }
    }
    let out = out.ok_or("--out is required")?;
    if files.is_empty() {
        return Err("no report files given".to_string());
    }
    Ok((out, files))
}

fn field<'a>(value: &'a serde_json::Value, path: &str) -> Result<&'a serde_json::Value, String> {
    path.split('.')
        .try_fold(value, |value, key| value.get(key))
        .ok_or_else(|| format!("missing field {path:?}"))
}

fn number(value: &serde_json::Value, path: &str) -> Result<f64, String> {
    field(value, path)?
        .as_f64()
        .ok_or_else(|| format!("field {path:?} is not a number"))
}

/// Reads the fields the figures need from one report's JSON text.
fn parse_report(text: &str) -> Result<PlotReport, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let target = field(&value, "target")?
        .as_str()
        .ok_or("field \"target\" is not a string")?
        .to_string();
    let clients = field(&value, "clients")?
        .as_u64()
        .ok_or("field \"clients\" is not a whole number")?;
    let points = field(&value, "latency_us.cdf")?
        .as_array()
        .ok_or("field \"latency_us.cdf\" is not an array")?;
    let mut cdf = Vec::with_capacity(points.len());
    for (index, point) in points.iter().enumerate() {
        let pair = point.as_array().filter(|pair| pair.len() == 2);
        let xy = pair.and_then(|pair| Some((pair[0].as_f64()?, pair[1].as_f64()?)));
        let (us, fraction) =
            xy.ok_or_else(|| format!("latency_us.cdf[{index}] is not [us, fraction]"))?;
        if !(0.0..=1.0).contains(&fraction) || us < 0.0 {
            return Err(format!(
                "latency_us.cdf[{index}] = [{us}, {fraction}] is out of range"
            ));
        }
        cdf.push((us, fraction));
    }
    Ok(PlotReport {
        target,
        clients,
        cdf,
        time_to_last_ms_max: number(&value, "time_to_last_delivery_ms_max")?,
    })
}

fn draw_error(e: impl std::fmt::Display) -> String {
    format!("drawing: {e}")
}

/// The latency CDF figure as SVG text.
fn draw_latency_cdf(reports: &[PlotReport]) -> Result<String, String> {
    let latencies = reports
        .iter()
        .flat_map(|r| r.cdf.iter().map(|&(us, _)| us.max(LATENCY_US_MIN)));
    let (low, high) = latencies.fold((f64::MAX, LATENCY_US_MIN), |(lo, hi), us| {
        (lo.min(us), hi.max(us))
    });
    let low = if low == f64::MAX { LATENCY_US_MIN } else { low };
    let x_range = (low * 0.9)..(high * 1.1).max(low * 10.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Delivery latency CDF", ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_range.log_scale(), 0.0..1.0)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("latency (µs, log scale)")
            .x_label_formatter(&|us| format!("{us:.0}"))
            .y_desc("fraction of deliveries")
            .draw()
            .map_err(draw_error)?;
        for (index, report) in reports.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let points = report
                .cdf
                .iter()
                .map(|&(us, fraction)| (us.max(LATENCY_US_MIN), fraction));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(draw_error)?
                .label(report.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// The time-to-last-delivery figure as SVG text: per target, its points sorted by clients.
fn draw_time_to_last_vs_n(reports: &[PlotReport]) -> Result<String, String> {
    let mut series: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for report in reports {
        let point = (report.clients as f64, report.time_to_last_ms_max);
        series
            .entry(report.target.as_str())
            .or_default()
            .push(point);
    }
    for points in series.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    let clients_max = reports.iter().map(|r| r.clients as f64).fold(1.0, f64::max);
    let ms_max = reports
        .iter()
        .map(|r| r.time_to_last_ms_max)
        .fold(1.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Time to last delivery vs clients", ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..clients_max * 1.05, 0.0..ms_max * 1.1)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("clients")
            .x_label_formatter(&|clients| format!("{clients:.0}"))
            .y_desc("time to last delivery, max over publishes (ms)")
            .draw()
            .map_err(draw_error)?;
        for (index, (target, points)) in series.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(draw_error)?
                .label(*target)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            // Markers, so a target measured at a single client count still shows.
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&point| Circle::new(point, 4, color.filled())),
                )
                .map_err(draw_error)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn draw_legend<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(draw_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../testdata/report-sample.json");

    /// The trimmed contents of every `<text>` element: what a reader of the figure sees.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|rest| {
                let body = &rest[rest.find('>')? + 1..];
                Some(body[..body.find("</text>")?].trim().to_string())
            })
            .collect()
    }

    fn report(target: &str, clients: u64, ms: f64) -> PlotReport {
        PlotReport {
            target: target.to_string(),
            clients,
            cdf: vec![(0.0, 0.0), (50.0, 0.5), (900.0, 1.0)],
            time_to_last_ms_max: ms,
        }
    }

    #[test]
    fn sample_report_yields_target_clients_cdf_and_time_to_last() {
        let parsed = parse_report(SAMPLE).expect("sample is valid");
        assert_eq!(parsed.target, "ringpin");
        assert_eq!(parsed.clients, 10000);
        assert_eq!(parsed.cdf.len(), 6);
        assert_eq!(parsed.cdf[2], (21000.0, 0.5));
        assert_eq!(parsed.cdf.last(), Some(&(51000.0, 1.0)));
        assert_eq!(parsed.time_to_last_ms_max, 51.0);
        assert_eq!(parsed.label(), "ringpin 10000 clients");
    }

    #[test]
    fn report_errors_name_the_field() {
        let mut value: serde_json::Value = serde_json::from_str(SAMPLE).expect("sample is JSON");
        let cases: [(&str, serde_json::Value, &str); 4] = [
            ("target", serde_json::json!(5), "\"target\" is not a string"),
            (
                "clients",
                serde_json::json!(-1),
                "\"clients\" is not a whole number",
            ),
            (
                "latency_us",
                serde_json::json!({"cdf": [[1, 2]]}),
                "latency_us.cdf[0]",
            ),
            (
                "time_to_last_delivery_ms_max",
                serde_json::Value::Null,
                "is not a number",
            ),
        ];
        for (key, replacement, expected) in cases {
            let original = value[key].clone();
            value[key] = replacement;
            let error = parse_report(&value.to_string()).expect_err(key);
            assert!(error.contains(expected), "{key}: {error}");
            value[key] = original;
        }
        let without_cdf = SAMPLE.replace("\"cdf\"", "\"no_cdf\"");
        assert!(parse_report(&without_cdf)
            .expect_err("no cdf")
            .contains("latency_us.cdf"));
    }

    #[test]
    fn cdf_figure_names_every_report() {
        let reports = [
            report("ringpin", 1000, 5.0),
            report("floor-send", 1000, 3.0),
        ];
        let svg = draw_latency_cdf(&reports).expect("draws");
        assert!(svg.starts_with("<svg"));
        let texts = texts(&svg);
        assert!(
            texts.iter().any(|t| t == "ringpin 1000 clients"),
            "{texts:?}"
        );
        assert!(
            texts.iter().any(|t| t == "floor-send 1000 clients"),
            "{texts:?}"
        );
    }

    #[test]
    fn time_to_last_figure_has_one_series_per_target() {
        let reports = [
            report("pushpin", 1000, 40.0),
            report("ringpin", 1000, 5.0),
            report("ringpin", 10000, 50.0),
        ];
        let svg = draw_time_to_last_vs_n(&reports).expect("draws");
        let texts = texts(&svg);
        let count = |name: &str| texts.iter().filter(|t| *t == name).count();
        assert_eq!(
            count("ringpin"),
            1,
            "one legend entry per target: {texts:?}"
        );
        assert_eq!(count("pushpin"), 1, "{texts:?}");
    }

    #[test]
    fn plot_writes_both_figures_from_report_files() {
        let dir = std::env::temp_dir().join(format!("ringpin-plot-test-{}", std::process::id()));
        let report_path = dir.join("report.json");
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(&report_path, SAMPLE).expect("write sample");
        let out = dir.join("figures");
        let args = [
            "--out".to_string(),
            out.display().to_string(),
            report_path.display().to_string(),
        ];
        main(&args).expect("plot runs");
        for name in ["latency_cdf.svg", "time_to_last_vs_n.svg"] {
            let svg = std::fs::read_to_string(out.join(name)).expect("figure written");
            assert!(svg.contains("ringpin"), "{name}");
        }
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn plot_needs_out_and_at_least_one_file() {
        let words = |line: &str| {
            line.split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert!(parse_args(&words("a.json"))
            .expect_err("no out")
            .contains("--out"));
        assert!(parse_args(&words("--out d"))
            .expect_err("no files")
            .contains("no report"));
        assert!(parse_args(&words("--out d --svg a.json"))
            .expect_err("bad flag")
            .contains("--svg"));
        let (out, files) = parse_args(&words("--out=d a.json b.json")).expect("valid");
        assert_eq!((out, files.len()), (PathBuf::from("d"), 2));
    }
}
