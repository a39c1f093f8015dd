// bnx compare: steps to the target on hand-made metrics (reached between evaluation points, never
// reached, ties, different batch sizes so steps and epochs differ), malformed input, the SVG and
// its accuracy axis.
#include "train/offline/compare.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

fs::path write_run(const std::string& name, const std::vector<std::string>& lines) {
  static const fs::path root = test::scratch_dir("compare");  // shared by the tests of this file
  const fs::path dir = root / name;
  fs::create_directories(dir);
  std::ofstream out(dir / "metrics.jsonl");
  for (const auto& l : lines) out << l << "\n";
  return dir;
}

std::string eval(int64_t step, int64_t batch, double top1) {
  const int64_t examples = step * batch;
  return "{\"kind\":\"eval\",\"step\":" + std::to_string(step) + ",\"examples\":" + std::to_string(examples) +
         ",\"epoch\":" + std::to_string(examples / 1000.0) + ",\"top1\":" + std::to_string(top1) + "}";
}

TEST(Compare, StepsToTargetTableAndSpeedups) {
  // Baseline (batch 10): max 0.80 first at step 400. Fast (batch 20): passes 0.80 between its
  // evaluations at 50 (0.78) and 100 (0.85): the first evaluation at or above the target is 100.
  auto base = write_run("baseline", {"{\"kind\":\"train\",\"step\":1,\"loss\":2.3}", eval(100, 10, 0.5), eval(200, 10, 0.7),
                                     eval(400, 10, 0.80), eval(800, 10, 0.80)});
  auto fast = write_run("fast", {eval(50, 20, 0.78), eval(100, 20, 0.85), eval(150, 20, 0.86)});
  auto slow = write_run("never", {eval(100, 10, 0.3), eval(900, 10, 0.79)});
  std::vector<RunCurve> runs = {read_run(base.string()), read_run(fast.string()), read_run(slow.string())};
  auto c = compare_runs(runs, 0, std::nullopt);
  EXPECT_DOUBLE_EQ(c.target, 0.80);
  ASSERT_TRUE(c.rows[0].reached.has_value());
  EXPECT_EQ(c.rows[0].reached->step, 400);   // the tie at 800 does not count: first reach
  EXPECT_EQ(c.rows[0].best.step, 400);
  EXPECT_EQ(c.rows[1].reached->step, 100);
  EXPECT_DOUBLE_EQ(c.rows[1].step_speedup, 4.0);       // 400 / 100 steps
  EXPECT_DOUBLE_EQ(c.rows[1].example_speedup, 2.0);    // 4000 / 2000 examples
  EXPECT_DOUBLE_EQ(c.rows[1].reached->epoch, 2.0);
  EXPECT_FALSE(c.rows[2].reached.has_value());
  const std::string table = format_comparison(c, false);
  EXPECT_NE(table.find("steps to 80.00%"), std::string::npos) << table;
  EXPECT_NE(table.find("4.00x"), std::string::npos) << table;
  EXPECT_FALSE(c.rows[1].reached_at_first_eval);
  // Reached at a run's first evaluation: reported as a bound.
  auto c3 = compare_runs(runs, 0, 0.7);
  EXPECT_TRUE(c3.rows[1].reached_at_first_eval);
  EXPECT_NE(format_comparison(c3, false).find("<=50"), std::string::npos) << format_comparison(c3, false);
  EXPECT_NE(format_comparison(c3, false).find(">=4.00x"), std::string::npos) << format_comparison(c3, false);
  const std::string md = format_comparison(c, true);
  EXPECT_NE(md.find("| never "), std::string::npos) << md;
  EXPECT_NE(md.find("| -"), std::string::npos) << md;
  // An explicit target.
  auto c2 = compare_runs(runs, 1, 0.5);
  EXPECT_EQ(c2.rows[0].reached->step, 100);
  EXPECT_EQ(c2.rows[1].reached->step, 50);
  EXPECT_DOUBLE_EQ(c2.rows[0].step_speedup, 0.5);
  // The SVG: one polyline per run, the target line, parseable structure.
  const std::string svg = plot_svg(runs, c.target, PlotOptions{true});
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  size_t curves = 0;
  for (size_t at = svg.find("class=\"curve\""); at != std::string::npos; at = svg.find("class=\"curve\"", at + 1)) ++curves;
  EXPECT_EQ(curves, 3u);
  EXPECT_NE(svg.find("id=\"target\""), std::string::npos);
}

// The y axis: ticks at whole percentages from the data's lower end ("0%", never "-0%"), or from
// --y-from, below which points are drawn on the axis instead of under it.
TEST(Compare, PlotAccuracyAxisFromTheDataOrFromYFrom) {
  auto low = write_run("low", {eval(10, 1, 0.0), eval(20, 1, 0.3), eval(40, 1, 0.92), eval(80, 1, 0.93)});
  const std::vector<RunCurve> runs = {read_run(low.string())};
  auto tick_labels = [](const std::string& svg) {
    std::vector<std::string> labels;
    for (size_t at = svg.find("class=\"tick\""); at != std::string::npos; at = svg.find("class=\"tick\"", at + 1)) {
      const size_t from = svg.find("end\">", at) + 5;
      labels.push_back(svg.substr(from, svg.find("</text>", from) - from));
    }
    return labels;
  };
  const auto whole = tick_labels(plot_svg(runs, 0.93, {}));
  ASSERT_FALSE(whole.empty());
  EXPECT_EQ(whole.front(), "0%");  // from 0, 10 points apart
  EXPECT_EQ(whole.back(), "100%");
  EXPECT_EQ(whole.size(), 11u);
  const std::string zoomed = plot_svg(runs, 0.93, PlotOptions{false, 0.88});
  const auto ticks = tick_labels(zoomed);
  EXPECT_EQ(ticks, (std::vector<std::string>{"88%", "89%", "90%", "91%", "92%", "93%", "94%"}));
  // The points at 0% and 30% keep their places below the bottom axis (the segment up to 92% keeps its
  // slope), and the curve is clipped to the plot area, whose bottom is that axis.
  auto number_after = [&](const std::string& key, size_t from) {
    const size_t at = zoomed.find(key, from) + key.size();
    return std::stod(zoomed.substr(at, zoomed.find('"', at) - at));
  };
  const double bottom = number_after("y1=\"", zoomed.find("<g id=\"axes\""));
  const double sy88 = number_after("y1=\"", zoomed.find("class=\"tick\""));
  const double sy89 = number_after("y1=\"", zoomed.find("class=\"tick\"", zoomed.find("class=\"tick\"") + 1));
  const size_t clip = zoomed.find("<clipPath id=\"plot-area\"><rect");
  ASSERT_NE(clip, std::string::npos);
  EXPECT_DOUBLE_EQ(number_after("y=\"", clip) + number_after("height=\"", clip), bottom);
  const size_t group = zoomed.find("<g clip-path=\"url(#plot-area)\">");
  const size_t curve = zoomed.find("class=\"curve\"");
  ASSERT_NE(group, std::string::npos);
  EXPECT_LT(group, curve);
  EXPECT_LT(curve, zoomed.find("</g>", group));
  const size_t pts = zoomed.find("points=\"", curve) + 8;
  std::istringstream points(zoomed.substr(pts, zoomed.find('"', pts) - pts));
  std::vector<double> ys;
  for (std::string xy; points >> xy;) ys.push_back(std::stod(xy.substr(xy.find(',') + 1)));
  ASSERT_EQ(ys.size(), 4u);
  const double per_point = sy88 - sy89;  // pixels per accuracy point
  EXPECT_NEAR(ys[0], bottom + 88 * per_point, 0.1);
  EXPECT_NEAR(ys[1], bottom + 58 * per_point, 0.1);
  EXPECT_NEAR(ys[2], bottom - 4 * per_point, 0.1);
}

TEST(Compare, MalformedInputNamesFileAndLine) {
  auto bad = write_run("bad", {eval(10, 1, 0.5), "{not json", eval(20, 1, 0.6)});
  try {
    read_run(bad.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad/metrics.jsonl:2: not a JSON object"), std::string::npos) << e.what();
  }
  auto missing = write_run("missing", {"{\"kind\":\"eval\",\"step\":3}"});
  EXPECT_THROW(read_run(missing.string()), std::runtime_error);
  auto empty = write_run("empty", {});
  try {
    read_run(empty.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no evaluation records"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_run("/nonexistent/run"), std::runtime_error);
}

// Seeds: runs grouped by variant, the target the lowest baseline maximum (or a given one), crossings
// interpolated, median and min-max; values computed by hand in the comments.
TEST(Compare, SeedsGroupByVariantWithInterpolatedCrossings) {
  // Baseline seeds: maxima 0.80 and 0.82, so the target is 0.80. Crossings: s1 200 + (0.8-0.7)/(0.8-0.7)
  // x 200 = 400; s2 100 + (0.8-0.6)/(0.82-0.6) x 100 = 190.909; median 295.4545.
  auto b1 = write_run("base_s1", {eval(100, 10, 0.5), eval(200, 10, 0.7), eval(400, 10, 0.80), eval(800, 10, 0.80)});
  auto b2 = write_run("base_s2", {eval(100, 10, 0.6), eval(200, 10, 0.82), eval(400, 10, 0.81)});
  // fast_s1: 50 + (0.8-0.78)/(0.85-0.78) x 50 = 64.2857; fast_s2 above at its first evaluation: 50 (a
  // bound); fast_s3 never.
  auto f1 = write_run("fast_s1", {eval(50, 10, 0.78), eval(100, 10, 0.85)});
  auto f2 = write_run("fast_s2", {eval(50, 10, 0.81), eval(100, 10, 0.84)});
  auto f3 = write_run("fast_s3", {eval(50, 10, 0.5), eval(100, 10, 0.6)});
  std::vector<RunCurve> runs;
  for (const auto& d : {b1, f1, b2, f2, f3}) runs.push_back(read_run(d.string()));
  EXPECT_EQ(variant_of("bn_x30_s12"), "bn_x30");
  EXPECT_EQ(variant_of("bn_x30"), "bn_x30");
  EXPECT_EQ(variant_of("run_sx"), "run_sx");
  const SeedComparison c = compare_seeds(runs, "");
  EXPECT_EQ(c.baseline, "base");
  EXPECT_DOUBLE_EQ(c.target, 0.80);
  ASSERT_EQ(c.rows.size(), 2u);
  EXPECT_EQ(c.rows[0].name, "base");
  EXPECT_NEAR(c.rows[0].steps.median, (400 + 100 + 100 * 0.2 / 0.22) / 2, 1e-9);
  EXPECT_NEAR(c.rows[0].steps.min, 100 + 100 * 0.2 / 0.22, 1e-9);
  EXPECT_NEAR(c.rows[0].steps.max, 400, 1e-9);
  const VariantRow& fast = c.rows[1];
  EXPECT_EQ(fast.runs.size(), 3u);
  EXPECT_EQ(fast.steps.n, 2u);
  EXPECT_TRUE(fast.bound);
  EXPECT_NEAR(fast.steps.min, 50, 1e-9);
  EXPECT_NEAR(fast.steps.max, 50 + 50 * 0.02 / 0.07, 1e-9);
  const double base = (400 + 100 + 100 * 0.2 / 0.22) / 2;
  EXPECT_NEAR(fast.speedup.median, (base / 50 + base / (50 + 50 * 0.02 / 0.07)) / 2, 1e-9);
  // Within 0.5 points (0.795): baseline 200 + 0.95 x 200 = 390 and 100 + 0.195/0.22 x 100.
  EXPECT_NEAR(c.rows[0].robust_steps.median, (390 + 100 + 100 * 0.195 / 0.22) / 2, 1e-9);
  EXPECT_NEAR(c.rows[0].best.median, 0.81, 1e-12);
  const std::string table = format_seeds(c, true);
  EXPECT_NE(table.find("| base (baseline)"), std::string::npos) << table;
  EXPECT_NE(table.find("[2/3 reached]"), std::string::npos) << table;
  const std::string svg = plot_seeds_svg(runs, c, PlotOptions{true});
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  size_t bands = 0;
  for (size_t at = svg.find("class=\"band\""); at != std::string::npos; at = svg.find("class=\"band\"", at + 1)) ++bands;
  EXPECT_EQ(bands, 2u);
  // An explicit target (bnx compare --seeds --target 0.7): base_s1 at 200, base_s2 at
  // 100 + 0.1/0.22 x 100 = 145.4545; fast_s1 and fast_s2 at their first evaluation (50, bounds).
  const SeedComparison at = compare_seeds(runs, "", 0.7);
  EXPECT_DOUBLE_EQ(at.target, 0.7);
  EXPECT_NEAR(at.rows[0].steps.median, (200 + 100 + 100 * 0.1 / 0.22) / 2, 1e-9);
  EXPECT_NEAR(at.rows[1].steps.median, 50, 1e-9);
  EXPECT_EQ(at.rows[1].steps.n, 2u);
}

}  // namespace
}  // namespace bnx::train
