// The model IR's helpers: typed attribute access, the name index, structural validation.
#include "model/graph.hpp"

#include <cstring>

#include "core/error.hpp"

namespace q8::model {

Bytes Bytes::copy_of(const void *p, std::size_t n) {
  auto owned = std::make_shared<std::vector<uint8_t>>(n);
  if (n != 0) std::memcpy(owned->data(), p, n);
  return take(std::move(*owned));
}

Bytes Bytes::take(std::vector<uint8_t> &&v) {
  auto owned = std::make_shared<std::vector<uint8_t>>(std::move(v));
  Bytes b;
  b.data = owned->data();
  b.size = owned->size();
  b.keeper = std::move(owned);
  return b;
}

namespace {
const Attr *lookup(const Node &n, const std::string &key, Attr::Kind kind, const char *kind_name) {
  auto it = n.attrs.find(key);
  if (it == n.attrs.end()) return nullptr;
  if (it->second.kind != kind)
    fail(Q8_ERR_FORMAT, "node '" + n.name + "' (" + n.op + "): attribute '" + key + "' is not " +
                            kind_name);
  return &it->second;
}
}  // namespace

int64_t Node::get_int(const std::string &key, int64_t def) const {
  const Attr *a = lookup(*this, key, Attr::INT, "an int");
  return a ? a->i : def;
}
double Node::get_float(const std::string &key, double def) const {
  const Attr *a = lookup(*this, key, Attr::FLOAT, "a float");
  return a ? a->f : def;
}
std::vector<int64_t> Node::get_ints(const std::string &key, std::vector<int64_t> def) const {
  const Attr *a = lookup(*this, key, Attr::INTS, "a list of ints");
  return a ? a->ints : def;
}
std::vector<float> Node::get_floats(const std::string &key, std::vector<float> def) const {
  const Attr *a = lookup(*this, key, Attr::FLOATS, "a list of floats");
  return a ? a->floats : def;
}
std::string Node::get_string(const std::string &key, std::string def) const {
  const Attr *a = lookup(*this, key, Attr::STRING, "a string");
  return a ? a->s : def;
}

int Graph::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

int Graph::add_value(Value v) {
  if (v.name.empty()) fail(Q8_ERR_FORMAT, "a tensor has an empty name");
  if (index_.count(v.name)) fail(Q8_ERR_FORMAT, "tensor name '" + v.name + "' is used twice");
  int id = static_cast<int>(values.size());
  index_[v.name] = id;
  values.push_back(std::move(v));
  return id;
}

void Graph::reindex() {
  index_.clear();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].name.empty()) fail(Q8_ERR_FORMAT, "a tensor has an empty name");
    if (!index_.emplace(values[i].name, static_cast<int>(i)).second)
      fail(Q8_ERR_FORMAT, "tensor name '" + values[i].name + "' is used twice");
  }
}

void Graph::validate() const {
  const int nv = static_cast<int>(values.size());
  std::vector<char> defined(values.size(), 0);
  for (int i = 0; i < nv; ++i) {
    const Value &v = values[i];
    if (q8_dtype_size(v.dtype) == 0)
      fail(Q8_ERR_FORMAT, "tensor '" + v.name + "' has an unknown dtype");
    if (v.is_const) {
      if (!v.has_shape) fail(Q8_ERR_FORMAT, "constant '" + v.name + "' has no shape");
      std::size_t n = 1;
      for (int64_t d : v.shape) {
        if (d < 0) fail(Q8_ERR_FORMAT, "constant '" + v.name + "' has a dynamic dimension");
        if (d != 0 && n > (SIZE_MAX / 16) / static_cast<std::size_t>(d))
          fail(Q8_ERR_FORMAT, "constant '" + v.name + "' is too large");
        n *= static_cast<std::size_t>(d);
      }
      if (v.shape.size() > Q8_MAX_RANK)
        fail(Q8_ERR_FORMAT, "constant '" + v.name + "' has rank above " + std::to_string(Q8_MAX_RANK));
      if (n * q8_dtype_size(v.dtype) != v.data.size)
        fail(Q8_ERR_FORMAT, "constant '" + v.name + "' holds " + std::to_string(v.data.size) +
                                " bytes, its shape needs " + std::to_string(n * q8_dtype_size(v.dtype)));
      defined[i] = 1;
    }
  }
  for (int id : inputs) {
    if (id < 0 || id >= nv) fail(Q8_ERR_FORMAT, "graph input index out of range");
    if (values[id].is_const) fail(Q8_ERR_FORMAT, "graph input '" + values[id].name + "' is a constant");
    if (defined[id]) fail(Q8_ERR_FORMAT, "graph input '" + values[id].name + "' is listed twice");
    defined[id] = 1;
  }
  for (const Node &n : nodes) {
    const std::string who = "node '" + n.name + "' (" + n.op + ")";
    for (int id : n.inputs) {
      if (id == -1) continue;
      if (id < -1 || id >= nv) fail(Q8_ERR_FORMAT, who + ": input index out of range");
      if (!defined[id])
        fail(Q8_ERR_FORMAT, who + ": input '" + values[id].name + "' is used before it is produced");
    }
    for (int id : n.outputs) {
      if (id == -1) continue;
      if (id < -1 || id >= nv) fail(Q8_ERR_FORMAT, who + ": output index out of range");
      if (defined[id]) fail(Q8_ERR_FORMAT, who + ": output '" + values[id].name + "' is produced twice");
      defined[id] = 1;
    }
  }
  for (int id : outputs) {
    if (id < 0 || id >= nv) fail(Q8_ERR_FORMAT, "graph output index out of range");
    if (!defined[id]) fail(Q8_ERR_FORMAT, "graph output '" + values[id].name + "' is never produced");
  }
  for (int i = 0; i < nv; ++i)
    if (find(values[i].name) != i)
      fail(Q8_ERR_FORMAT, "tensor '" + values[i].name + "' is missing from the name index");
}

}  // namespace q8::model
