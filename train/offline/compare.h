// `bnx compare`: reads several runs' metrics.jsonl, finds how many training steps (and epochs,
// and examples) each needs to first reach a target validation accuracy (the baseline's maximum, or
// a given one), the speed-up over the baseline, and each run's maximum — the layout of the paper's
// Figure 3 table — and draws validation accuracy against steps (Figure 2) as SVG.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bnx::train {

struct EvalPoint {
  int64_t step = 0;
  double epoch = 0;
  int64_t examples = 0;
  double top1 = 0;
};

struct RunCurve {
  std::string name;  // the run folder's name
  std::string path;  // its metrics.jsonl
  std::vector<EvalPoint> evals;
};

/// Reads `path` (a metrics.jsonl, or a run folder holding one); errors name the file and line.
RunCurve read_run(const std::string& path);

struct CompareRow {
  std::string name;
  std::optional<EvalPoint> reached;  // first evaluation at or above the target
  bool reached_at_first_eval = false;  // then the true first crossing may be earlier: "<=" and ">="
  double step_speedup = 0;           // baseline steps / this run's steps (0 when not reached)
  double example_speedup = 0;
  EvalPoint best;                    // maximum accuracy and where
};

struct Comparison {
  double target = 0;
  size_t baseline = 0;
  std::vector<CompareRow> rows;
};

/// `target` unset: the baseline's maximum validation accuracy.
Comparison compare_runs(const std::vector<RunCurve>& runs, size_t baseline, std::optional<double> target);
/// Aligned text table, or Markdown.
std::string format_comparison(const Comparison& comparison, bool markdown);
/// A shaded range around curve i of a plot (min to max over a variant's seeds), at `steps`.
struct Band {
  std::vector<int64_t> steps;
  std::vector<double> lo, hi;
};

struct PlotOptions {
  bool log_steps = false;  // log-scale steps axis
  /// Lower end of the accuracy axis in [0, 1) (a zoom on the crossings: what lies below is clipped,
  /// the lines into it keeping their slopes); < 0: from the data.
  double y_from = -1;
};

/// SVG line plot of validation top-1 against steps, one curve per run, with the target line;
/// `bands[i]` (when given) is drawn under curve i in its color.
std::string plot_svg(const std::vector<RunCurve>& runs, double target, const PlotOptions& options,
                     const std::vector<Band>& bands = {});

// Several seeds per variant (Figure 3 with error bars). Runs are grouped by variant: a run folder
// "bn_x30_s2" belongs to "bn_x30". The target is the baseline's best accuracy: with several
// baseline seeds, the lowest of their maxima (so that every baseline seed reaches it). A crossing
// is interpolated linearly between the last evaluation below the target and the first at or above
// it; a run above the target at its first evaluation counts that step (an upper bound, marked).

/// The variant of a run: its name without a trailing "_s<digits>".
std::string variant_of(const std::string& run_name);

/// The step at which `run` first reaches `target` (interpolated, see above); -1 when never.
/// `bound` is set when the first evaluation is already at or above the target.
double crossing_step(const RunCurve& run, double target, bool* bound = nullptr);

/// Median, minimum and maximum of the finite values; `n` of `of` runs had one.
struct Spread {
  double median = -1, min = -1, max = -1;
  size_t n = 0, of = 0;
};
Spread spread_of(const std::vector<double>& values);

struct VariantRow {
  std::string name;
  std::vector<std::string> runs;
  Spread steps, speedup;                // to the target
  Spread robust_steps, robust_speedup;  // to within 0.5 points of it
  Spread best;                          // each run's maximum accuracy
  bool bound = false;                   // some crossing is an upper bound (reached at the first evaluation)
};

struct SeedComparison {
  double target = 0;
  std::string baseline;
  std::vector<VariantRow> rows;  // the baseline first, then in order of first appearance
};

/// Groups `runs` by variant and compares them with the `baseline` variant ("" = the first run's), at
/// `target` (unset: the baseline's best, as above).
SeedComparison compare_seeds(const std::vector<RunCurve>& runs, const std::string& baseline,
                             std::optional<double> target = std::nullopt);
std::string format_seeds(const SeedComparison& comparison, bool markdown);
/// The median curve of each variant with its min-max band (curves interpolated onto the steps of
/// the variant's first run).
std::string plot_seeds_svg(const std::vector<RunCurve>& runs, const SeedComparison& comparison, const PlotOptions& options);

}  // namespace bnx::train
