// ONNX import: an ONNX ModelProto (bytes or file) becomes a checked q8 model, with the graph
// passes of model/passes.hpp applied. docs/ONNX.md lists what is accepted and rejected.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include <vector>

#include "model/graph.hpp"
#include "onnx/external_data.hpp"

namespace q8::onnx {

// Parses, checks (the ONNX checker, then q8's own rules) and converts. Throws q8::Error:
// Q8_ERR_FORMAT for bytes that are not a valid model, Q8_ERR_UNSUPPORTED for valid models that
// use something q8 cannot run (naming the node, operator, attribute or opset). Bytes have no
// directory, so initializers with external data fail (Q8_ERR_UNSUPPORTED).
std::unique_ptr<q8_model> import_onnx(const void *data, std::size_t size);
// The same from a file; Q8_ERR_IO if it cannot be read. External data (external_data.hpp) is
// resolved against the file's directory and borrowed from read-only mappings; `files`, when
// given, receives those mappings (the checkpoint streamer releases their pages as it goes).
std::unique_ptr<q8_model> import_onnx_file(const std::string &path,
                                           std::vector<std::shared_ptr<const MappedFile>> *files = nullptr);

}  // namespace q8::onnx
