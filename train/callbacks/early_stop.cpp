// Early stopping (see early_stop.h).
#include "train/callbacks/early_stop.h"

#include "train/trainer.h"

#include <sstream>

namespace bnx::train {

namespace {
std::string number(double v) {  // shortest of 6 significant digits: 0.3, not 0.300000
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string plateau_reason(const PlateauRule& rule) {
  return "plateau: no new best in the last third of the run and a mean gain below " + number(100 * rule.min_gain) +
         " points";
}
}  // namespace

void PlateauStop::on_fit_start(Trainer& t) {
  if (t.lead() && !curve_.empty() && curve_.back().first == t.steps_done() && plateau_reached(curve_, rule_)) {
    t.request_stop(plateau_reason(rule_) + ", already at the resumed step");
  }
}

void PlateauStop::on_eval_end(Trainer& t, const EvalResult& r) {
  if (!t.lead()) return;
  curve_.emplace_back(t.steps_done(), r.top1);
  if (plateau_reached(curve_, rule_)) t.request_stop(plateau_reason(rule_));
}

void TargetStop::on_eval_end(Trainer& t, const EvalResult& r) {
  if (r.top1 >= top1_) t.request_stop("top-1 " + number(r.top1) + " reached the target " + number(top1_));
}

}  // namespace bnx::train
