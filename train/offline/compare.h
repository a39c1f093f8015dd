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
/// SVG line plot of validation top-1 against steps, one curve per run, with the target line.
std::string plot_svg(const std::vector<RunCurve>& runs, double target, bool log_steps);

}  // namespace bnx::train
