// Steps-to-accuracy comparison and plot (see compare.h).
#include "train/offline/compare.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace bnx::train {

RunCurve read_run(const std::string& path) {
  RunCurve run;
  fs::path file = fs::is_directory(path) ? fs::path(path) / "metrics.jsonl" : fs::path(path);
  run.path = file.string();
  run.name = fs::is_directory(path) ? fs::path(path).filename().string() : file.parent_path().filename().string();
  if (run.name.empty() || run.name == ".") run.name = file.stem().string();
  std::ifstream in(file);
  if (!in) throw std::runtime_error(run.path + ": cannot read (no such metrics file)");
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    const std::string where = run.path + ":" + std::to_string(number);
    if (j.is_discarded() || !j.is_object()) throw std::runtime_error(where + ": not a JSON object");
    if (j.value("kind", "") != "eval") continue;
    for (const char* key : {"step", "top1", "examples", "epoch"}) {
      if (!j.contains(key) || !j[key].is_number()) throw std::runtime_error(where + ": missing or non-numeric '" + key + "'");
    }
    EvalPoint p{j["step"].get<int64_t>(), j["epoch"].get<double>(), j["examples"].get<int64_t>(), j["top1"].get<double>()};
    if (!run.evals.empty() && p.step <= run.evals.back().step) {
      throw std::runtime_error(where + ": step " + std::to_string(p.step) + " does not increase");
    }
    run.evals.push_back(p);
  }
  if (run.evals.empty()) throw std::runtime_error(run.path + ": no evaluation records (kind \"eval\")");
  return run;
}

Comparison compare_runs(const std::vector<RunCurve>& runs, size_t baseline, std::optional<double> target) {
  if (runs.empty()) throw std::invalid_argument("compare: no runs");
  if (baseline >= runs.size()) throw std::invalid_argument("compare: baseline index out of range");
  Comparison c;
  c.baseline = baseline;
  auto best = [](const RunCurve& r) {
    // Ties keep the earliest step.
    return *std::max_element(r.evals.begin(), r.evals.end(),
                             [](const EvalPoint& a, const EvalPoint& b) { return a.top1 < b.top1; });
  };
  c.target = target ? *target : best(runs[baseline]).top1;
  for (const auto& run : runs) {
    CompareRow row;
    row.name = run.name;
    row.best = best(run);
    for (size_t k = 0; k < run.evals.size(); ++k) {
      if (run.evals[k].top1 >= c.target - 1e-12) {
        row.reached = run.evals[k];
        row.reached_at_first_eval = k == 0;
        break;
      }
    }
    c.rows.push_back(row);
  }
  const auto& base = c.rows[baseline].reached;
  for (auto& row : c.rows) {
    if (base && row.reached) {
      row.step_speedup = double(base->step) / double(row.reached->step);
      row.example_speedup = double(base->examples) / double(row.reached->examples);
    }
  }
  return c;
}

namespace {
std::string fixed(double v, int digits) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << v;
  return out.str();
}
std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A table (first row the header) as aligned text, or Markdown with right-aligned number columns.
std::string format_table(const std::vector<std::vector<std::string>>& cells, bool markdown) {
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells)
    for (size_t k = 0; k < row.size(); ++k) width[k] = std::max(width[k], row[k].size());
  std::ostringstream out;
  for (size_t i = 0; i < cells.size(); ++i) {
    for (size_t k = 0; k < cells[i].size(); ++k) {
      const std::string& s = cells[i][k];
      std::string pad(width[k] - s.size(), ' ');
      if (markdown) {
        out << "| " << s << pad << " ";
      } else {
        out << (k ? "  " : "") << (k ? pad + s : s + pad);
      }
    }
    out << (markdown ? "|\n" : "\n");
    if (markdown && i == 0) {
      for (size_t k = 0; k < width.size(); ++k) out << "|" << (k ? std::string(width[k] + 1, '-') + ":" : std::string(width[k] + 2, '-'));
      out << "|\n";
    }
  }
  return out.str();
}
}  // namespace

std::string format_comparison(const Comparison& c, bool markdown) {
  std::vector<std::vector<std::string>> cells = {
      {"run", "steps to " + fixed(100 * c.target, 2) + "%", "epochs", "speed-up (steps)", "speed-up (examples)",
       "max accuracy", "at step"}};
  for (size_t i = 0; i < c.rows.size(); ++i) {
    const auto& r = c.rows[i];
    // Reached at the first evaluation: the crossing happened at or before it, so the step count is
    // an upper bound and the speed-up a lower bound.
    const std::string le = r.reached_at_first_eval ? "<=" : "", ge = r.reached_at_first_eval ? ">=" : "";
    cells.push_back({r.name + (i == c.baseline ? " (baseline)" : ""), r.reached ? le + std::to_string(r.reached->step) : "-",
                     r.reached ? le + fixed(r.reached->epoch, 2) : "-",
                     r.reached && r.step_speedup > 0 ? ge + fixed(r.step_speedup, 2) + "x" : "-",
                     r.reached && r.example_speedup > 0 ? ge + fixed(r.example_speedup, 2) + "x" : "-",
                     fixed(100 * r.best.top1, 2) + "%", std::to_string(r.best.step)});
  }
  return format_table(cells, markdown);
}

std::string plot_svg(const std::vector<RunCurve>& runs, double target, const PlotOptions& options, const std::vector<Band>& bands) {
  const bool log_steps = options.log_steps;
  const double W = 800, H = 500, left = 70, right = 200, top = 30, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  int64_t max_step = 1;
  double lo = 1, hi = 0;
  int64_t min_step = INT64_MAX;
  for (const auto& r : runs) {
    for (const auto& p : r.evals) {
      max_step = std::max(max_step, p.step);
      min_step = std::min(min_step, std::max<int64_t>(1, p.step));
      lo = std::min(lo, p.top1);
      hi = std::max(hi, p.top1);
    }
  }
  // The axis ends on whole 5 points (1 point when zoomed with y_from), with a margin above the data.
  const double grid = options.y_from >= 0 ? 0.01 : 0.05;
  lo = options.y_from >= 0 ? options.y_from : std::max(0.0, std::floor(std::min(lo, target) * 20 - 1) / 20);
  hi = std::min(1.0, std::ceil(std::max(hi, target) / grid + 0.5) * grid);
  if (hi <= lo) hi = std::min(1.0, lo + 0.05);
  const double x0 = log_steps ? std::log10(double(min_step)) : 0, x1 = log_steps ? std::log10(double(max_step)) : double(max_step);
  auto sx = [&](double step) {
    double v = log_steps ? std::log10(std::max(1.0, step)) : step;
    return left + pw * (v - x0) / std::max(1e-9, x1 - x0);
  };
  // Points below the axis (with y_from) keep their place below it and are clipped, not lifted onto it.
  auto sy = [&](double acc) { return top + ph * (1 - (acc - lo) / std::max(1e-9, hi - lo)); };
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  std::ostringstream s;
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<g id=\"axes\" stroke=\"black\"><line x1=\"" << left << "\" y1=\"" << top + ph << "\" x2=\"" << left + pw << "\" y2=\"" << top + ph
    << "\"/><line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << top + ph << "\"/></g>\n";
  // y ticks at round percentages: every 1, 2, 5, 10 or 20 points, at most 10 ticks (counted in whole
  // ticks, so the first is never "-0%").
  double tick = 0.01;
  for (double t : {0.01, 0.02, 0.05, 0.1, 0.2}) {
    tick = t;
    if ((hi - lo) / t <= 10 + 1e-9) break;
  }
  for (int64_t k = std::llround(std::ceil(lo / tick - 1e-9)); k * tick <= hi + 1e-9; ++k) {
    const double acc = k * tick;
    s << "<g class=\"tick\"><line x1=\"" << left - 4 << "\" y1=\"" << sy(acc) << "\" x2=\"" << left + pw << "\" y2=\"" << sy(acc)
      << "\" stroke=\"#ddd\"/><text x=\"" << left - 8 << "\" y=\"" << sy(acc) + 4 << "\" text-anchor=\"end\">" << fixed(100 * acc, 0)
      << "%</text></g>\n";
  }
  // x ticks: powers of ten on a log axis, else round steps (1, 2 or 5 x 10^k) with at most 8 ticks.
  std::vector<double> xticks;
  if (log_steps) {
    for (double v = std::ceil(x0 - 1e-9); v <= x1 + 1e-9; v += 1) xticks.push_back(std::pow(10.0, v));
  } else {
    double unit = std::pow(10.0, std::floor(std::log10(std::max(1.0, x1))));
    double step = unit;
    for (double m : {0.1, 0.2, 0.5, 1.0}) {
      if (x1 / (unit * m) <= 8) {
        step = unit * m;
        break;
      }
    }
    for (double v = 0; v <= x1 + 1e-9; v += std::max(1.0, step)) xticks.push_back(v);
  }
  for (double step : xticks) {
    s << "<text x=\"" << sx(step) << "\" y=\"" << top + ph + 18 << "\" text-anchor=\"middle\">" << std::llround(step) << "</text>\n";
  }
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 15 << "\" text-anchor=\"middle\">training steps" << (log_steps ? " (log scale)" : "")
    << "</text>\n"
    << "<text transform=\"translate(18," << top + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">validation top-1 accuracy</text>\n"
    << "<clipPath id=\"plot-area\"><rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\"/></clipPath>\n<g clip-path=\"url(#plot-area)\">\n"
    << "<line id=\"target\" x1=\"" << left << "\" y1=\"" << sy(target) << "\" x2=\"" << left + pw << "\" y2=\"" << sy(target)
    << "\" stroke=\"gray\" stroke-dasharray=\"6,4\"/>\n"
    << "<text x=\"" << left + 4 << "\" y=\"" << sy(target) - 5 << "\" fill=\"gray\">target "  // at the left, where the curves are still low
    << fixed(100 * target, 2) << "%</text>\n";
  for (size_t i = 0; i < bands.size() && i < runs.size(); ++i) {
    const Band& b = bands[i];
    s << "<polygon class=\"band\" fill=\"" << colors[i % 8] << "\" fill-opacity=\"0.18\" stroke=\"none\" points=\"";
    for (size_t k = 0; k < b.steps.size(); ++k) s << fixed(sx(double(std::max<int64_t>(1, b.steps[k]))), 1) << "," << fixed(sy(b.hi[k]), 1) << " ";
    for (size_t k = b.steps.size(); k-- > 0;) s << fixed(sx(double(std::max<int64_t>(1, b.steps[k]))), 1) << "," << fixed(sy(b.lo[k]), 1) << " ";
    s << "\"/>\n";
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = colors[i % 8];
    s << "<polyline class=\"curve\" data-run=\"" << xml_escape(runs[i].name) << "\" fill=\"none\" stroke=\"" << color
      << "\" stroke-width=\"2\" points=\"";
    for (const auto& p : runs[i].evals) s << fixed(sx(double(std::max<int64_t>(1, p.step))), 1) << "," << fixed(sy(p.top1), 1) << " ";
    s << "\"/>\n";
  }
  s << "</g>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = colors[i % 8];
    const double ly = top + 10 + 20 * i;
    s << "<g class=\"legend\"><line x1=\"" << left + pw + 15 << "\" y1=\"" << ly << "\" x2=\"" << left + pw + 40 << "\" y2=\"" << ly
      << "\" stroke=\"" << color << "\" stroke-width=\"2\"/><text x=\"" << left + pw + 45 << "\" y=\"" << ly + 4 << "\">"
      << xml_escape(runs[i].name) << "</text></g>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string variant_of(const std::string& name) {
  const auto at = name.rfind("_s");
  if (at == std::string::npos || at + 2 >= name.size()) return name;
  for (size_t i = at + 2; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return name;
  }
  return name.substr(0, at);
}

double crossing_step(const RunCurve& run, double target, bool* bound) {
  if (bound) *bound = false;
  for (size_t k = 0; k < run.evals.size(); ++k) {
    const EvalPoint& p = run.evals[k];
    if (p.top1 < target - 1e-12) continue;
    if (k == 0) {
      if (bound) *bound = true;
      return double(p.step);
    }
    const EvalPoint& q = run.evals[k - 1];  // below the target
    const double t = (target - q.top1) / std::max(1e-12, p.top1 - q.top1);
    return double(q.step) + t * double(p.step - q.step);
  }
  return -1;
}

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.of = values.size();
  std::vector<double> v;
  for (double x : values) {
    if (x >= 0 && std::isfinite(x)) v.push_back(x);
  }
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  return s;
}

namespace {
double best_of(const RunCurve& r) {
  double best = 0;
  for (const auto& p : r.evals) best = std::max(best, p.top1);
  return best;
}
}  // namespace

SeedComparison compare_seeds(const std::vector<RunCurve>& runs, const std::string& baseline, std::optional<double> given_target) {
  if (runs.empty()) throw std::invalid_argument("compare: no runs");
  SeedComparison c;
  c.baseline = baseline.empty() ? variant_of(runs[0].name) : baseline;
  std::vector<std::string> order = {c.baseline};
  std::map<std::string, std::vector<const RunCurve*>> groups;
  for (const auto& r : runs) {
    const std::string v = variant_of(r.name);
    if (!groups.count(v) && v != c.baseline) order.push_back(v);
    groups[v].push_back(&r);
  }
  if (!groups.count(c.baseline)) throw std::invalid_argument("compare: no run of the baseline variant '" + c.baseline + "'");
  if (given_target) {
    c.target = *given_target;
  } else {  // the lowest of the baseline seeds' bests, so that every baseline seed reaches it
    c.target = 1;
    for (const auto* r : groups[c.baseline]) c.target = std::min(c.target, best_of(*r));
  }
  const double robust_target = c.target - 0.005;
  auto steps_of = [&](const std::vector<const RunCurve*>& group, double target, bool* any_bound) {
    std::vector<double> steps;
    for (const auto* r : group) {
      bool bound = false;
      steps.push_back(crossing_step(*r, target, &bound));
      if (bound && any_bound) *any_bound = true;
    }
    return steps;
  };
  const double base_steps = spread_of(steps_of(groups[c.baseline], c.target, nullptr)).median;
  const double base_robust = spread_of(steps_of(groups[c.baseline], robust_target, nullptr)).median;
  for (const auto& name : order) {
    VariantRow row;
    row.name = name;
    std::vector<double> bests, speedups, robust_speedups;
    const auto steps = steps_of(groups[name], c.target, &row.bound);
    const auto robust = steps_of(groups[name], robust_target, &row.bound);
    for (size_t i = 0; i < groups[name].size(); ++i) {
      row.runs.push_back(groups[name][i]->name);
      bests.push_back(best_of(*groups[name][i]));
      speedups.push_back(steps[i] > 0 && base_steps > 0 ? base_steps / steps[i] : -1);
      robust_speedups.push_back(robust[i] > 0 && base_robust > 0 ? base_robust / robust[i] : -1);
    }
    row.steps = spread_of(steps);
    row.speedup = spread_of(speedups);
    row.robust_steps = spread_of(robust);
    row.robust_speedup = spread_of(robust_speedups);
    row.best = spread_of(bests);
    c.rows.push_back(row);
  }
  return c;
}

std::string format_seeds(const SeedComparison& c, bool markdown) {
  auto range = [](const Spread& s, double scale, int digits, const std::string& unit) {
    if (s.n == 0) return std::string("never");
    std::string text = fixed(s.median * scale, digits) + unit;
    if (s.of > 1) text += " (" + fixed(s.min * scale, digits) + "-" + fixed(s.max * scale, digits) + ")";
    if (s.n < s.of) text += " [" + std::to_string(s.n) + "/" + std::to_string(s.of) + " reached]";
    return text;
  };
  std::vector<std::vector<std::string>> cells = {
      {"variant", "runs", "steps to " + fixed(100 * c.target, 2) + "%", "speed-up", "steps to " + fixed(100 * c.target - 0.5, 2) + "%",
       "speed-up (0.5 pt)", "max accuracy"}};
  for (const auto& r : c.rows) {
    cells.push_back({r.name + (r.name == c.baseline ? " (baseline)" : "") + (r.bound ? " *" : ""), std::to_string(r.runs.size()),
                     range(r.steps, 1, 0, ""), range(r.speedup, 1, 2, "x"), range(r.robust_steps, 1, 0, ""),
                     range(r.robust_speedup, 1, 2, "x"), range(r.best, 100, 2, "%")});
  }
  std::ostringstream out;
  out << format_table(cells, markdown);
  out << (markdown ? "\n" : "") << "Median (min-max) over seeds; crossings interpolated between evaluations"
      << "; * = some run was above the target at its first evaluation (an upper bound on its steps).\n";
  return out.str();
}

namespace {
// top-1 of `run` at `step`, linear between evaluations (clamped to the ends).
double accuracy_at(const RunCurve& run, int64_t step) {
  const auto& e = run.evals;
  if (step <= e.front().step) return e.front().top1;
  for (size_t k = 1; k < e.size(); ++k) {
    if (step <= e[k].step) {
      const double t = double(step - e[k - 1].step) / double(e[k].step - e[k - 1].step);
      return e[k - 1].top1 + t * (e[k].top1 - e[k - 1].top1);
    }
  }
  return e.back().top1;
}
}  // namespace

std::string plot_seeds_svg(const std::vector<RunCurve>& runs, const SeedComparison& c, const PlotOptions& options) {
  std::vector<RunCurve> medians;
  std::vector<Band> bands;
  for (const auto& row : c.rows) {
    std::vector<const RunCurve*> group;
    for (const auto& r : runs) {
      if (variant_of(r.name) == row.name) group.push_back(&r);
    }
    RunCurve median;
    median.name = row.name + " (" + std::to_string(group.size()) + ")";
    Band band;
    for (const auto& p : group.front()->evals) {
      std::vector<double> values;
      for (const auto* r : group) {
        if (p.step <= r->evals.back().step) values.push_back(accuracy_at(*r, p.step));
      }
      const Spread s = spread_of(values);
      median.evals.push_back({p.step, p.epoch, p.examples, s.median});
      band.steps.push_back(p.step);
      band.lo.push_back(s.min);
      band.hi.push_back(s.max);
    }
    medians.push_back(median);
    bands.push_back(band);
  }
  return plot_svg(medians, c.target, options, bands);
}

}  // namespace bnx::train
