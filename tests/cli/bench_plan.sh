#!/bin/bash
# q8 bench --plan (and the q8 run --plan it shares its plan and pipeline code with), through the
# tool as a user runs it, on the bundled digits CNN with 2-partition plans made by q8 partition.
#   bench_plan.sh Q8 PYTHON DATA_DIR OUT_DIR
set -euo pipefail
q8=$1 python=$2 data=$3 out=$4
mkdir -p "$out"
cd "$out"
csv=$data/digits.csv.gz
fp32=$data/models/digits_cnn.onnx
rows=(--data "$csv" --input-scale 0.0625)
fail() { echo "FAIL: $*" >&2; exit 1; }

"$q8" quantize "$fp32" --calib "$csv" --input-scale 0.0625 -o cnn8.q8 --quiet > /dev/null
"$q8" quantize "$fp32" --mode dynamic -o cnnd.q8 --quiet > /dev/null
for m in fp32:"$fp32" int8:cnn8.q8 dyn:cnnd.q8 mlp:"$data/models/digits_mlp.onnx"; do
  "$q8" partition "${m#*:}" --count 2 -o "plan-${m%%:*}.json" > "partition-${m%%:*}.txt"
  grep -q "^2 partitions of" "partition-${m%%:*}.txt" || fail "q8 partition ${m#*:} made no 2-partition plan"
done

# Static INT8, 10 micro-batches of 7 rows (the last of 1): identical outputs, and the printed
# figures agree with each other (rows/s = batch / latency; the ratio is pipeline / whole).
"$q8" bench cnn8.q8 --plan plan-int8.json --micro-batch 7 --batch 64 --rounds 3 --reps 2 "${rows[@]}" > int8.txt
cat int8.txt
grep -q "^plan plan-int8.json: 2 partitions; pipeline: 10 micro-batches of 7 rows, 1 replica, in flight default, threads as --threads$" int8.txt ||
  fail "int8: no plan line"
grep -q "^outputs: identical (1 output, 640 values: memcmp equal)$" int8.txt || fail "int8: outputs not identical"
grep -q "^partition 0  *[1-9][0-9]* nodes  input_quantize \.\. .* constants  *[0-9.]* KiB$" int8.txt || fail "int8: no row for partition 0"
grep -q "^partition 1  *[1-9][0-9]* nodes  .* \.\. logits_dequantize  *constants  *[0-9.]* KiB$" int8.txt || fail "int8: no row for partition 1"
grep -q "^constants: \(.*\) over the partitions, \1 in the whole model$" int8.txt ||
  fail "int8: the partitions' constants do not add up to the model's"
grep -q "^peak RSS  *[0-9.]* [KMG]iB  *[0-9.]* [KMG]iB$" int8.txt || fail "int8: no peak RSS of both"
awk '
  /^latency \/ batch/ { lw = $4; lp = $6 }
  /^throughput/ { w = $2; p = $4; r = $6; sub("x$", "", r) }
  END {
    if (!(w > 0 && p > 0 && lw > 0 && lp > 0)) { print "int8: missing figures"; exit 1 }
    if ((w * lw / 1000 - 64) ^ 2 > 0.1 || (p * lp / 1000 - 64) ^ 2 > 0.1) { print "int8: rows/s != 64 / latency"; exit 1 }
    if ((r - p / w) ^ 2 > 1e-5) { print "int8: ratio " r " is not pipeline / whole " p / w; exit 1 }
  }' int8.txt || fail "int8: inconsistent figures"

# The same pipeline with --serial-stages (kernels on the stages' own threads, q8's setting left at
# 2 threads): said in the plan line, outputs still identical.
"$q8" bench cnn8.q8 --plan plan-int8.json --micro-batch 7 --batch 64 --threads 2 --serial-stages --rounds 2 --reps 2 \
  "${rows[@]}" > serial.txt
grep -q "^plan plan-int8.json: 2 partitions; pipeline: 10 micro-batches of 7 rows, 1 replica, in flight default, threads as --threads, serial stages$" serial.txt ||
  fail "serial: no plan line naming serial stages"
grep -q "^outputs: identical (1 output, 640 values: memcmp equal)$" serial.txt || fail "serial: outputs not identical"

# FP32 as JSON, 2 replicas, 3 in flight, micro-batches of 16 over 64 rows, single-threaded kernels
# in a 2-thread pipeline: a valid object whose figures agree, and identical outputs (q8's ordered
# FP32 GEMM computes a row's bits whatever the row count: docs/PARTITIONS.md, Bit-exactness).
"$q8" bench "$fp32" --plan plan-fp32.json --micro-batch 16 --replicas 2 --max-in-flight 3 --threads 1 \
  --pipeline-threads 2 --json --rounds 2 --reps 2 "${rows[@]}" > fp32.json
cat fp32.json
"$python" - fp32.json <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert (j["batch"], j["micro_batch"], j["micro_batches"], j["replicas"], j["max_in_flight"]) == (64, 16, 4, 2, 3), j
assert (j["threads"], j["pipeline_threads"], j["serial_stages"]) == (1, 2, False), j
assert j["plan"] == "plan-fp32.json" and j["model"].endswith("digits_cnn.onnx"), j
assert (j["outputs_identical"], j["differing_values"], j["max_abs_diff"]) == (True, 0, 0), j
for side in ("whole", "pipeline"):
    s = j[side]
    assert s["latency_s"] > 0 and abs(s["rows_per_s"] * s["latency_s"] - 64) < 1e-6, s
    assert s["peak_rss"] > s["base_rss"] > 0, s
assert abs(j["ratio"] - j["pipeline"]["rows_per_s"] / j["whole"]["rows_per_s"]) < 1e-5 * j["ratio"], j
parts = j["partitions"]
assert len(parts) == 2 and sum(p["nodes"] for p in parts) == 11, parts
assert sum(p["weight_bytes"] for p in parts) == j["weight_bytes"] > 0, j
print("fp32 json: ok")
PY
# The same as a table, at micro-batches of 7 (the last of 1 row).
"$q8" bench "$fp32" --plan plan-fp32.json --micro-batch 7 --rounds 1 --reps 1 "${rows[@]}" > fp32.txt
grep -q "^outputs: identical (1 output, 640 values: memcmp equal)$" fp32.txt || fail "fp32, micro-batches of 7: not identical"

# Dynamic quantization measures activation ranges per run, so micro-batches of 7 compute other
# numbers than the whole batch: the bench must say so, with the size of the difference.
"$q8" bench cnnd.q8 --plan plan-dyn.json --micro-batch 7 --rounds 1 --reps 1 "${rows[@]}" > dyn.txt
cat dyn.txt
grep -q "^outputs: differ (max |diff| [0-9.e+-]*; [1-9][0-9]* of 640 values differ, in 'logits')$" dyn.txt ||
  fail "dynamic: a difference was not reported"
grep -q "max |diff| 0;" dyn.txt && fail "dynamic: zero max |diff| for differing outputs"
grep -q "^throughput" dyn.txt || fail "dynamic: no figures after the difference"

# q8 run --plan writes what q8 run writes (micro-batches of 7 and 2 replicas for INT8, 13 for FP32).
"$q8" run cnn8.q8 "${rows[@]}" --rows test -o run-whole.csv
"$q8" run cnn8.q8 "${rows[@]}" --rows test --plan plan-int8.json --micro-batch 7 --replicas 2 -o run-plan.csv
test "$(wc -l < run-whole.csv)" -eq 450 || fail "run: not 450 rows"
cmp run-whole.csv run-plan.csv || fail "run --plan: INT8 outputs differ"
"$q8" run "$fp32" "${rows[@]}" --rows test --batch 450 -o run-whole32.csv
"$q8" run "$fp32" "${rows[@]}" --rows test --plan plan-fp32.json --micro-batch 13 -o run-plan32.csv
cmp run-whole32.csv run-plan32.csv || fail "run --plan: FP32 outputs differ"

# Bad input: the exit status (1 error, 2 usage), a message naming the problem, nothing on stdout.
echo '{"format": "q8-partition-plan", "version": 1, "partitions": [' > broken.json
expect() {  # STATUS PATTERN ARGS...
  local want=$1 pattern=$2 status=0
  shift 2
  "$q8" bench --rounds 1 --reps 1 "$@" > bad.out 2> bad.err || status=$?
  test "$status" -eq "$want" || fail "q8 bench $*: exit $status, want $want"
  grep -q -- "$pattern" bad.err || fail "q8 bench $*: message '$(cat bad.err)' lacks '$pattern'"
  test ! -s bad.out || fail "q8 bench $*: printed figures despite the error"
  echo "bad input ok: q8 bench $* -> $(head -1 bad.err)"
}
expect 1 "plan-mlp.json: .*made for a model of 5 nodes; this model has 11" "$fp32" --plan plan-mlp.json
expect 1 "plan-fp32.json: .*partition plan" cnn8.q8 --plan plan-fp32.json
expect 1 "broken.json: .*partition plan" "$fp32" --plan broken.json
expect 1 "missing.json: .*cannot open" "$fp32" --plan missing.json
expect 2 "--micro-batch must be an integer in \[1," "$fp32" --plan plan-fp32.json --micro-batch 0
expect 2 "--plan .* takes no --against" "$fp32" --plan plan-fp32.json --against cnn8.q8
expect 2 "--replicas must be an integer in \[1," "$fp32" --plan plan-fp32.json --replicas 0
expect 2 "--max-in-flight must be an integer in \[1," "$fp32" --plan plan-fp32.json --max-in-flight 0
expect 2 "--pipeline-threads must be an integer in \[1," "$fp32" --plan plan-fp32.json --pipeline-threads 0
expect 2 "--micro-batch needs --plan" "$fp32" --micro-batch 8
expect 2 "--serial-stages needs --plan" "$fp32" --serial-stages
expect 2 "--plan needs a value" "$fp32" --plan
echo "bench_plan: all checks passed"
