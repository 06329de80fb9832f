// What an export's __metadata__ says of its model, so that the file alone rebuilds it: DiT's
// constructor arguments (facebookresearch/DiT's models.py), or the U-Net's diffusers
// UNet2DModel config as JSON under "config" (UNet2DModel(**json.loads(...)) builds the reference).
#pragma once
#include <map>
#include <string>

#include "framework/nn/dit.h"
#include "framework/nn/unet.h"

namespace carnot {

using Metadata = std::map<std::string, std::string>;

Metadata dit_metadata(const DitConfig& c);
// Throws UsageError naming `path` and the key when the metadata is missing or malformed.
DitConfig dit_from_metadata(const Metadata& m, const std::string& path);

// diffusers' UNet2DModel keyword arguments for this U-Net (DDPM's sinusoid: flip_sin_to_cos false,
// freq_shift 1; class_embedding rows = classes + the null class).
std::string unet_diffusers_config(const UNetConfig& c);
Metadata unet_metadata(const UNetConfig& c);
// Refuses configs Carnot does not build (other block types, sinusoids, activations...).
UNetConfig unet_from_metadata(const Metadata& m, const std::string& path);

}  // namespace carnot
