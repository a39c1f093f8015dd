// The dataset factory (see dataset.h).
#include "data/dataset.h"

#include <algorithm>

#include "data/idx.h"
#include "data/image_folder.h"
#include "data/synthetic.h"

namespace bnx::data {

std::shared_ptr<Dataset> make_dataset(const DatasetOptions& options, bool train) {
  switch (options.kind) {
    case DatasetKind::kIdx: return IdxDataset::from_folder(options.root, train);
    case DatasetKind::kImageFolder: return ImageFolder::open(options.root, train, options.val_labels);
    case DatasetKind::kSynthetic:
      return std::make_shared<SyntheticDataset>(train ? options.synthetic_size : std::max<int64_t>(1, options.synthetic_size / 4),
                                                options.synthetic_classes, options.synthetic_image_size,
                                                options.synthetic_channels, train ? 1 : 2);
  }
  throw DataError("unknown data set kind");
}

}  // namespace bnx::data
