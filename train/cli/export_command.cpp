// `bnx export`: a checkpoint's model, rebuilt through the run's setup (which checks that the
// checkpoint fits it), as safetensors with PyTorch/torchvision names, optionally BN folded.
#include <iostream>

#include "train/checkpoint.h"
#include "train/cli/command.h"
#include "train/cli/config.h"
#include "train/offline/export.h"
#include "train/session.h"

namespace bnx::cli {
namespace {

class ExportCommand : public Command {
 public:
  explicit ExportCommand(CLI::App& parent) {
    app = parent.add_subcommand("export", "export a checkpoint as safetensors with PyTorch names");
    app->add_option("--checkpoint", checkpoint_, "checkpoint file")->required();
    app->add_option("--out", out_, "output .safetensors file")->required();
    app->add_flag("--fold-bn", fold_bn_, "fold BN into the preceding convolution (inference)");
  }

  int run(std::shared_ptr<dist::Communicator>, const Hooks&) override {
    const train::Checkpoint ckpt = train::read_checkpoint(checkpoint_);
    // On this process alone, on the CPU; the model's sizes from the checkpoint (older checkpoints
    // lack them: then from the data set).
    const train::Config config = parse_config(ckpt.meta.config_yaml, checkpoint_ + " (its config)",
                                              {"train.device=cpu"});
    train::SessionParts parts;
    parts.data = ckpt.meta.in_channels <= 0 || ckpt.meta.num_classes <= 0;
    parts.in_channels = ckpt.meta.in_channels;
    parts.num_classes = ckpt.meta.num_classes;
    train::Session s = train::open_session(config, dist::make_local_communicator(), parts);
    const NamedTensors model_state = models::state_dict(*s.model);
    train::load_state(ckpt, model_state);
    const NamedTensors state = fold_bn_ ? train::fold_batch_norm(model_state, config.model.bn_eps) : model_state;
    std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                   {"model", ckpt.meta.model_name},
                                                   {"step", std::to_string(ckpt.meta.step)},
                                                   {"bn_folded", fold_bn_ ? "true" : "false"},
                                                   {"config", ckpt.meta.config_yaml},
                                                   {"bnx_version", ckpt.meta.bnx_version}};
    train::write_safetensors(out_, state, metadata);
    std::cout << "wrote " << state.size() << " tensors to " << out_ << std::endl;
    return kExitOk;
  }

 private:
  std::string checkpoint_, out_;
  bool fold_bn_ = false;
};

}  // namespace

std::unique_ptr<Command> add_export_command(CLI::App& app) { return std::make_unique<ExportCommand>(app); }

}  // namespace bnx::cli
