// `bnx convert`: Fashion-MNIST's IDX files as an ImageNet-style JPEG folder (to exercise the
// ImageNet data path on real JPEGs).
#include <iostream>

#include "data/convert.h"
#include "data/idx.h"
#include "train/cli/command.h"

namespace bnx::cli {
namespace {

class ConvertCommand : public Command {
 public:
  explicit ConvertCommand(CLI::App& parent) {
    app = parent.add_subcommand("convert", "convert IDX (Fashion-MNIST) into an ImageNet-style JPEG folder");
    app->add_option("--idx", idx_, "IDX folder")->capture_default_str();
    app->add_option("--out", out_, "output folder")->required();
    app->add_option("--limit", limit_, "at most N images per split (0 = all)");
    app->add_option("--size", size_, "resize images to NxN (0 = keep)");
  }

  int run(std::shared_ptr<dist::Communicator>, const Hooks&) override {
    auto train_set = data::IdxDataset::from_folder(idx_, true);
    auto val_set = data::IdxDataset::from_folder(idx_, false);
    data::ConvertOptions o;
    o.limit = limit_;
    o.size = size_;
    std::cout << "wrote " << data::write_image_folder(*train_set, *val_set, out_, o) << " images to " << out_ << std::endl;
    return kExitOk;
  }

 private:
  std::string idx_ = "/usr/share/datasets/fashion-mnist", out_;
  int64_t limit_ = 0, size_ = 0;
};

}  // namespace

std::unique_ptr<Command> add_convert_command(CLI::App& app) { return std::make_unique<ConvertCommand>(app); }

}  // namespace bnx::cli
