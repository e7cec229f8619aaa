// Plans as text and JSON (plan.hpp): the table q8_partition_plan_describe prints, and the JSON
// that q8_partition_plan_save writes and q8_partition_plan_load checks field by field.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "partition/plan.hpp"

namespace q8::partition {
namespace {

using Json = nlohmann::ordered_json;
constexpr const char *kFormat = "q8-partition-plan";
constexpr int kVersion = 1;

const char *balance_name(q8_partition_balance b) { return b == Q8_PARTITION_BY_FLOPS ? "flops" : "bytes"; }

std::string joined(const std::vector<std::string> &names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s.empty() ? "-" : s;
}

[[noreturn]] void bad(const std::string &message) { fail(Q8_ERR_FORMAT, "partition plan: " + message); }

// Names may hold any bytes; JSON needs UTF-8, so invalid sequences become U+FFFD (such a name
// then matches no node on load, which says so).
std::string dump(const Json &j, int indent = -1) { return j.dump(indent, ' ', false, Json::error_handler_t::replace); }

uint64_t get_u64(const Json &j, const std::string &where) {
  if (!j.is_number_unsigned()) bad(where + " is not a non-negative integer");
  return j.get<uint64_t>();
}

std::vector<std::string> get_names(const Json &j, const std::string &where) {
  if (!j.is_array()) bad(where + " is not an array of tensor names");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) bad(where + "[" + std::to_string(i) + "] is not a string");
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

// Only the keys listed; a misspelt key would otherwise be silently ignored.
void only_keys(const Json &j, std::initializer_list<const char *> keys, const std::string &where) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char *k : keys) known = known || it.key() == k;
    if (!known) bad(where + ": unknown key '" + it.key() + "'");
  }
}

}  // namespace

std::string describe_text(const Plan &plan) {
  std::string s;
  char line[512];
  std::snprintf(line, sizeof line, "%zu partition%s of %zu nodes, balanced by %s (FLOPs at batch %" PRId64 ")\n",
                plan.parts.size(), plan.parts.size() == 1 ? "" : "s", plan.node_names.size(), balance_name(plan.balance),
                plan.batch);
  s += line;
  std::snprintf(line, sizeof line, "%4s %6s %14s %16s  %s\n", "part", "nodes", "weight bytes", "FLOPs", "first .. last");
  s += line;
  for (std::size_t i = 0; i < plan.parts.size(); ++i) {
    const Part &p = plan.parts[i];
    std::snprintf(line, sizeof line, "%4zu %6zu %14" PRIu64 " %16" PRIu64 "  ", i, p.count, p.weight_bytes, p.flops);
    s += line + plan.node_names[p.first] + " .. " + plan.node_names[p.first + p.count - 1] + "\n";
    s += "     inputs:  " + joined(p.inputs) + "\n     outputs: " + joined(p.outputs) + "\n";
  }
  return s;
}

std::string to_json(const Plan &plan) {
  Json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["nodes"] = plan.node_names.size();
  j["balance"] = balance_name(plan.balance);
  j["batch"] = plan.batch;
  j["partitions"] = Json::array();
  for (const Part &p : plan.parts) {
    Json e;
    e["first"] = plan.node_names[p.first];
    e["last"] = plan.node_names[p.first + p.count - 1];
    e["nodes"] = p.count;
    e["weight_bytes"] = p.weight_bytes;
    e["flops"] = p.flops;
    e["inputs"] = p.inputs;
    e["outputs"] = p.outputs;
    j["partitions"].push_back(std::move(e));
  }
  return dump(j, 1) + "\n";
}

Plan from_json(const q8_model &model, const void *bytes, std::size_t size) {
  const auto *p = static_cast<const char *>(bytes);
  Json j;
  try {
    j = Json::parse(p, p + size);
  } catch (const Json::exception &e) {
    bad(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) bad("the document is not a JSON object");
  only_keys(j, {"format", "version", "nodes", "balance", "batch", "partitions"}, "the plan");
  if (!j.contains("format") || j["format"] != kFormat) bad(std::string("\"format\" is not \"") + kFormat + "\"");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != kVersion)
    bad("\"version\" is not " + std::to_string(kVersion) + " (the only version this library reads)");

  const model::Graph &g = model.graph;
  const std::size_t n = g.nodes.size();
  if (j.contains("nodes") && get_u64(j["nodes"], "\"nodes\"") != n)
    bad("it was made for a model of " + j["nodes"].dump() + " nodes; this model has " + std::to_string(n));
  q8_partition_balance balance = Q8_PARTITION_BY_BYTES;
  if (j.contains("balance")) {
    if (j["balance"] == "flops")
      balance = Q8_PARTITION_BY_FLOPS;
    else if (j["balance"] != "bytes")
      bad("\"balance\" is " + dump(j["balance"]) + ", not \"bytes\" or \"flops\"");
  }
  int64_t batch = 1;
  if (j.contains("batch")) {
    const uint64_t b = get_u64(j["batch"], "\"batch\"");
    if (b < 1 || b > (uint64_t(1) << 31)) bad("\"batch\" = " + std::to_string(b) + " is outside [1, 2^31]");
    batch = static_cast<int64_t>(b);
  }
  if (!j.contains("partitions") || !j["partitions"].is_array() || j["partitions"].empty())
    bad("\"partitions\" is missing, not an array, or empty");

  std::map<std::string, std::size_t> index;
  for (std::size_t k = 0; k < n; ++k) index.emplace(g.nodes[k].name, k);
  const Json &parts = j["partitions"];
  std::vector<std::size_t> firsts;
  std::size_t next = 0;  // the node the next partition must start at
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string where = "partition " + std::to_string(i);
    const Json &e = parts[i];
    if (!e.is_object()) bad(where + " is not an object");
    only_keys(e, {"first", "last", "nodes", "weight_bytes", "flops", "inputs", "outputs"}, where);
    std::size_t ends[2];
    const char *keys[2] = {"first", "last"};
    for (int b = 0; b < 2; ++b) {
      if (!e.contains(keys[b]) || !e[keys[b]].is_string()) bad(where + ": \"" + keys[b] + "\" is missing or not a node name");
      auto it = index.find(e[keys[b]].get<std::string>());
      if (it == index.end()) bad(where + ": \"" + keys[b] + "\" names node " + dump(e[keys[b]]) + ", which the model does not have");
      ends[b] = it->second;
    }
    const std::string first = "'" + g.nodes[ends[0]].name + "' (node " + std::to_string(ends[0]) + ")";
    if (ends[1] < ends[0])
      bad(where + ": its last node '" + g.nodes[ends[1]].name + "' (node " + std::to_string(ends[1]) +
          ") comes before its first " + first + " in the model's order");
    if (ends[0] < next)
      bad(where + " overlaps partition " + std::to_string(i - 1) + ": it starts at " + first + ", which partition " +
          std::to_string(i - 1) + " already holds (it ends at node " + std::to_string(next - 1) + ")");
    if (ends[0] > next)
      bad("nodes " + std::to_string(next) + " .. " + std::to_string(ends[0] - 1) + " ('" + g.nodes[next].name + "' .. '" +
          g.nodes[ends[0] - 1].name + "') are in no partition: " + where + " starts at " + first);
    firsts.push_back(ends[0]);
    next = ends[1] + 1;
  }
  if (next != n)
    bad("nodes " + std::to_string(next) + " .. " + std::to_string(n - 1) + " ('" + g.nodes[next].name + "' .. '" +
        g.nodes[n - 1].name + "') are in no partition: the last one ends before the model does");

  Plan plan = plan_from_firsts(model, firsts, balance, batch);
  // Derived fields are optional; present, they must say what the model says now.
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Json &e = parts[i];
    const Part &part = plan.parts[i];
    const std::string where = "partition " + std::to_string(i);
    auto agree = [&](const char *key, uint64_t want) {
      if (e.contains(key) && get_u64(e[key], where + ": \"" + key + "\"") != want)
        bad(where + ": \"" + key + "\" is " + e[key].dump() + ", the model gives " + std::to_string(want) +
            " (fields other than first and last are derived: remove them after moving a boundary)");
    };
    agree("nodes", part.count);
    agree("weight_bytes", part.weight_bytes);
    agree("flops", part.flops);
    const std::pair<const char *, const std::vector<std::string> *> lists[2] = {{"inputs", &part.inputs},
                                                                               {"outputs", &part.outputs}};
    for (const auto &[key, want] : lists)
      if (e.contains(key) && get_names(e[key], where + ": \"" + key + "\"") != *want)
        bad(where + ": \"" + key + "\" lists " + dump(e[key]) + ", the model gives " + dump(Json(*want)) +
            " (fields other than first and last are derived: remove them after moving a boundary)");
  }
  return plan;
}

}  // namespace q8::partition
