// Steps-to-accuracy comparison and plot (see compare.h).
#include "train/offline/compare.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
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

std::string plot_svg(const std::vector<RunCurve>& runs, double target, bool log_steps) {
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
  lo = std::max(0.0, std::floor(std::min(lo, target) * 20 - 1) / 20);
  hi = std::min(1.0, std::ceil(std::max(hi, target) * 20 + 0.5) / 20);
  const double x0 = log_steps ? std::log10(double(min_step)) : 0, x1 = log_steps ? std::log10(double(max_step)) : double(max_step);
  auto sx = [&](double step) {
    double v = log_steps ? std::log10(std::max(1.0, step)) : step;
    return left + pw * (v - x0) / std::max(1e-9, x1 - x0);
  };
  auto sy = [&](double acc) { return top + ph * (1 - (acc - lo) / std::max(1e-9, hi - lo)); };
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
  std::ostringstream s;
  s << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<g id=\"axes\" stroke=\"black\"><line x1=\"" << left << "\" y1=\"" << top + ph << "\" x2=\"" << left + pw << "\" y2=\"" << top + ph
    << "\"/><line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << top + ph << "\"/></g>\n";
  // y ticks at round percentages: every 5, 10 or 20 points, at most 10 ticks.
  double tick = 0.05;
  while ((hi - lo) / tick > 10) tick *= 2;
  for (double acc = std::ceil(lo / tick - 1e-9) * tick; acc <= hi + 1e-9; acc += tick) {
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
    << "<line id=\"target\" x1=\"" << left << "\" y1=\"" << sy(target) << "\" x2=\"" << left + pw << "\" y2=\"" << sy(target)
    << "\" stroke=\"gray\" stroke-dasharray=\"6,4\"/>\n"
    << "<text x=\"" << left + pw - 4 << "\" y=\"" << sy(target) - 5 << "\" text-anchor=\"end\" fill=\"gray\">target "
    << fixed(100 * target, 2) << "%</text>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const char* color = colors[i % 8];
    s << "<polyline class=\"curve\" data-run=\"" << xml_escape(runs[i].name) << "\" fill=\"none\" stroke=\"" << color
      << "\" stroke-width=\"2\" points=\"";
    for (const auto& p : runs[i].evals) s << fixed(sx(double(std::max<int64_t>(1, p.step))), 1) << "," << fixed(sy(p.top1), 1) << " ";
    s << "\"/>\n";
    const double ly = top + 10 + 20 * i;
    s << "<g class=\"legend\"><line x1=\"" << left + pw + 15 << "\" y1=\"" << ly << "\" x2=\"" << left + pw + 40 << "\" y2=\"" << ly
      << "\" stroke=\"" << color << "\" stroke-width=\"2\"/><text x=\"" << left + pw + 45 << "\" y=\"" << ly + 4 << "\">"
      << xml_escape(runs[i].name) << "</text></g>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace bnx::train
