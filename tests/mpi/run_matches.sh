#!/bin/bash
# q8-mpi run on several ranks (a pipeline: partition r on rank r) must write the outputs that one
# whole-model session over all rows at once writes (q8-mpi run --single --batch 1797), byte for
# byte, at batches of 64 rows in micro-batches of 64 and 7: FP32 and INT8 rows do not depend on
# the batch they are computed in.
#   run_matches.sh Q8 Q8_MPI MPIRUN DATA_DIR OUT_DIR MODEL
# MODEL: cnn (the digits CNN on 1 and 2 ranks) or skip (tests/mpi/skip_two_outputs.onnx, from
# make_skip_model.py: a skip connection and two graph outputs, on 1 to 4 ranks, so tensors pass
# through ranks that neither make nor read them); MODEL_int8 statically quantizes it first with
# `q8 quantize`, so that the partitions hand u8 tensors with their qparams on.
set -euo pipefail
q8=$1 q8mpi=$2 mpirun=$3 data=$4 out=$5 model=$6
mkdir -p "$out"
# In the sanitizer build: OpenMPI 4.1 leaks in MPI_Init/Finalize (hwloc, its plugins, vasprintf;
# unsymbolizable stacks), so LeakSanitizer is off for these processes; ASan and UBSan stay on.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo
case ${model%_int8} in
  cnn) file=$data/models/digits_cnn.onnx ranks="1 2" values=10 ;;  # 10 logits a row
  skip) file=$(dirname "$0")/skip_two_outputs.onnx ranks="1 2 3 4" values=42 ;;  # y (10) and r1 (32)
  *) echo "unknown model $model" >&2; exit 2 ;;
esac
if [[ $model == *_int8 ]]; then
  "$q8" quantize "$file" --calib "$data/digits.csv.gz" --input-scale 0.0625 -o "$out/run-$model.q8" --quiet
  file=$out/run-$model.q8
fi
args=("$file" --data "$data/digits.csv.gz" --input-scale 0.0625)
checksum() { sed -n 's/.*fnv1a \([0-9a-f]*\)$/\1/p' "$1"; }
whole=run-$model-whole
"$q8mpi" run "${args[@]}" --batch 1797 --single -o "$out/$whole.bin" > "$out/$whole.txt"
# 1797 rows of f32 outputs: the reference holds real outputs, not an empty file.
test "$(stat -c %s "$out/$whole.bin")" -eq $((1797 * values * 4))
for mb in 64 7; do
  tag=run-$model-mb$mb
  "$q8mpi" run "${args[@]}" --micro-batch "$mb" --single -o "$out/$tag-single.bin" > "$out/$tag-single.txt"
  cmp "$out/$whole.bin" "$out/$tag-single.bin"
  for np in $ranks; do
    rm -f "$out/$tag-np$np.bin"
    "$mpirun" --oversubscribe -np "$np" "$q8mpi" run "${args[@]}" --micro-batch "$mb" -o "$out/$tag-np$np.bin" \
      > "$out/$tag-np$np.txt"
    cmp "$out/$whole.bin" "$out/$tag-np$np.bin"
    test "$(checksum "$out/$whole.txt")" = "$(checksum "$out/$tag-np$np.txt")"
    echo "$tag: $np rank(s) wrote the outputs of one whole-model session over all rows ($(checksum "$out/$tag-np$np.txt"))"
  done
done
# --single is one process: with 2 ranks it is a usage error that writes nothing. (The ranks exit
# with 2 through MPI_Abort; mpirun usually passes the 2 on, but OpenMPI 4.1's mpirun was seen to
# crash once while tearing aborted ranks down, so only failure itself is required of it.)
if "$mpirun" --oversubscribe -np 2 "$q8mpi" run "${args[@]}" --single -o "$out/run-$model-bad.bin" \
     2> "$out/run-$model-bad.txt"; then
  echo "--single on 2 ranks succeeded" >&2; exit 1
fi
grep -q -- "--single runs in one process" "$out/run-$model-bad.txt"
test ! -e "$out/run-$model-bad.bin"
# Bad options are usage errors (exit 2) naming the option, on one rank too.
for bad in "--by nodes" "--micro-batch 0"; do
  set +e
  "$q8mpi" run "${args[@]}" $bad -o "$out/run-$model-bad.bin" 2> "$out/run-$model-bad.txt"
  status=$?
  set -e
  test "$status" -eq 2
  grep -q -- "${bad% *}" "$out/run-$model-bad.txt"
  test ! -e "$out/run-$model-bad.bin"
done
