// Threaded, ordered batch loader (see loader.h).
#include "data/loader.h"

#include <opencv2/core/utility.hpp>

#include <iostream>

namespace bnx::data {

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform,
               LoaderOptions options, std::vector<std::vector<int64_t>> batches, uint64_t seed, int64_t epoch)
    : dataset_(std::move(dataset)),
      transform_(std::move(transform)),
      options_(options),
      batches_(std::move(batches)),
      seed_(seed),
      epoch_(epoch) {
  if (options_.threads < 1 || options_.prefetch < 1) throw DataError("loader: threads and prefetch must be >= 1");
  cv::setNumThreads(1);  // workers are the parallelism; no nested OpenCV pools
  for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { work(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_.notify_all();
  for (auto& t : workers_) t.join();
}

void Loader::work() {
  torch::NoGradGuard no_grad;
  while (true) {
    size_t job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Bounded: never more than `prefetch` batches ahead of the consumer.
      space_.wait(lock, [&] { return stop_ || next_job_ >= batches_.size() || next_job_ < next_out_ + options_.prefetch; });
      if (stop_ || next_job_ >= batches_.size()) return;
      job = next_job_++;
    }
    try {
      Batch batch = build(batches_[job]);
      std::lock_guard<std::mutex> lock(mutex_);
      done_.emplace(job, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      errors_.emplace(job, std::current_exception());
    }
    ready_.notify_all();
  }
}

int64_t Loader::load_into(int64_t index, void* out) {
  const int64_t n = dataset_->size();
  if (index < 0 || index >= n) {
    throw std::out_of_range("example index " + std::to_string(index) + " outside the data set of " + std::to_string(n));
  }
  for (int64_t attempt = 0; attempt < n; ++attempt) {
    const int64_t i = (index + attempt) % n;
    // Keyed by the requested example, so a replacement is as deterministic as the original.
    Rng rng({seed_, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(index)});
    try {
      auto bytes = dataset_->encoded(i);
      if (options_.ten_crop) {
        if (bytes.empty()) {
          transform_->apply_ten_crop(dataset_->load(i).image, out, options_.uint8_output);
        } else {
          transform_->apply_ten_crop_encoded(bytes, dataset_->describe(i), out, options_.uint8_output);
        }
      } else if (bytes.empty()) {
        transform_->apply(dataset_->load(i).image, rng, out, options_.uint8_output);
      } else {
        transform_->apply_encoded(bytes, dataset_->describe(i), rng, out, options_.uint8_output);
      }
      std::lock_guard<std::mutex> lock(mutex_);
      ++loaded_;
      return i;
    } catch (const DataError& e) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++failures_;
      ++loaded_;
      std::cerr << "warning: " << e.what() << "; using the next example instead" << std::endl;
      if (failures_ > options_.max_failure_fraction * std::max<int64_t>(loaded_, 100)) {
        throw DataError("too many unreadable examples: " + std::to_string(failures_) + " of " +
                        std::to_string(loaded_) + " (limit " + std::to_string(options_.max_failure_fraction * 100) +
                        "%); last: " + e.what());
      }
    }
  }
  throw DataError("no example of the data set could be decoded");
}

Batch Loader::build(const std::vector<int64_t>& indices) {
  const int64_t b = static_cast<int64_t>(indices.size()), c = transform_->channels(),
                s = transform_->options().crop_size;
  const int64_t crops = options_.ten_crop ? 10 : 1;
  Batch batch;
  // Pinned (page-locked) host memory lets the copy to a GPU run asynchronously.
  batch.images = torch::empty({b * crops, c, s, s}, torch::TensorOptions()
                                                         .dtype(options_.uint8_output ? torch::kUInt8 : torch::kFloat32)
                                                         .pinned_memory(options_.pin_memory));
  batch.labels = torch::empty({b}, torch::kInt64);
  const size_t per_example = static_cast<size_t>(crops * c * s * s) * batch.images.element_size();
  auto* base = static_cast<uint8_t*>(batch.images.data_ptr());
  for (int64_t k = 0; k < b; ++k) {
    const int64_t used = load_into(indices[k], base + k * per_example);
    batch.labels.data_ptr<int64_t>()[k] = dataset_->label(used);
    batch.indices.push_back(used);
  }
  return batch;
}

std::optional<Batch> Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_out_ >= batches_.size()) return std::nullopt;
  ready_.wait(lock, [&] { return done_.count(next_out_) || errors_.count(next_out_); });
  if (auto e = errors_.find(next_out_); e != errors_.end()) {
    std::exception_ptr error = e->second;
    stop_ = true;
    lock.unlock();
    space_.notify_all();
    std::rethrow_exception(error);
  }
  Batch batch = std::move(done_.at(next_out_));
  done_.erase(next_out_++);
  lock.unlock();
  space_.notify_all();
  return batch;
}

int64_t Loader::failures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failures_;
}

}  // namespace bnx::data
