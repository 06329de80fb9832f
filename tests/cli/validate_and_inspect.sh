#!/usr/bin/env bash
# validate accepts every config in configs/ and refuses broken specs with exit 2 and the right
# message; inspect reports a checkpoint's tensors and flags a damaged file with exit 1.
source "$(dirname "$0")/common.sh"

for cfg in "$SRC"/configs/*.yaml; do
  "$CARNOT" validate "$cfg" > validate.out || { cat validate.out; fail "validate $cfg"; }
  grep -q "^valid$" validate.out || fail "validate $cfg printed no verdict"
  grep -qE "per parameter|no parameters" validate.out || fail "validate $cfg printed no plan"
  echo "ok: validate $(basename "$cfg")"
done
grep -q "153 k parameters (153,474)" validate.out || fail "parameter count of the Swiss-roll model"
# DiT-XL/2 at 256×256 (32×32×4 latents): the reference's parameter count, and the paper's 118.6
# GFLOPs (multiply-adds) per forward.
"$CARNOT" validate "$SRC/configs/dit_xl2_256.yaml" > dit.out
grep -q "675 M parameters (675,129,632)" dit.out && grep -q "237 G per sample forward" dit.out \
  || { cat dit.out; fail "DiT-XL/2's plan"; }
# DDPM's CIFAR-10 U-Net: diffusers' count of google/ddpm-cifar10-32, and 6.2 G multiply-adds.
"$CARNOT" validate "$SRC/configs/ddpm_cifar10.yaml" > ddpm.out
grep -q "35.7 M parameters (35,746,307)" ddpm.out && grep -q "12.4 G per sample forward" ddpm.out \
  || { cat ddpm.out; fail "the DDPM U-Net's plan"; }
# ZeRO-1's accounting: AdamW's 8 bytes per parameter become 8/N, plus the 4/N gradient shard.
"$CARNOT" validate "$SRC/configs/swissroll.yaml" --set distributed.zero=1 --ranks 4 > zero.out
"$CARNOT" validate "$SRC/configs/fashion_dit_s.yaml" > dit.out
grep -q "(train.recompute true: activations" dit.out || { cat dit.out; fail "validate shows no recompute plan for a DiT"; }
"$CARNOT" validate "$SRC/configs/swissroll.yaml" --set train.precision=bf16 > bf16.out
grep -q "per parameter    24 bytes (bf16 weights 2 + bf16 gradients 2 + fp32 master weights 4" bf16.out ||
  { cat bf16.out; fail "validate's bf16 accounting"; }
grep -q "per parameter    15 bytes" zero.out && grep -q "AdamW state 299.75 KiB" zero.out \
  || { cat zero.out; fail "validate's ZeRO-1 accounting on 4 ranks"; }

check_refused() {  # check_refused PATTERN ARGS...
  local pattern=$1; shift
  set +e; "$CARNOT" validate "$@" > out.txt 2> err.txt; local rc=$?; set -e
  [ $rc -eq 2 ] && grep -qF -- "$pattern" err.txt || { cat err.txt; fail "validate $* (exit $rc)"; }
  echo "ok (exit 2): $(cat err.txt)"
}
sed 's/hidden: 128/hidden: -4/' "$SRC/configs/swissroll.yaml" > neg.yaml
check_refused "neg.yaml:5:" neg.yaml
check_refused "model.hidden: must be in [1, 65536], got -4" neg.yaml
check_refused "--set 'diffusion.steps=10'" "$SRC/configs/swissroll.yaml" --set diffusion.steps=10
check_refused "cannot read job spec" missing.yaml
printf 'name: x\nmodel:\n  kind: dit\n' > dit_points.yaml
check_refused "dit needs image data" dit_points.yaml
check_refused "model.size XL fixes hidden, depth and heads" "$SRC/configs/dit_xl2_256.yaml" --set model.hidden=64
check_refused "only for image data" "$SRC/configs/swissroll.yaml" --set data.pad_to=32
check_refused "model.patch 3 must divide the image side 32" "$SRC/configs/dit_xl2_256.yaml" --set model.patch=3
check_refused "model.attention_resolutions: 12 is not the side of a level (32, 16, 8, 4)" \
  "$SRC/configs/ddpm_cifar10.yaml" --set "model.attention_resolutions=[12]"
check_refused "model.groups: 32 groups do not divide level 0's 48 channels" "$SRC/configs/ddpm_cifar10.yaml" \
  --set model.channels=48
check_refused "distributed.zero: must be in [0, 1]" "$SRC/configs/swissroll.yaml" --set distributed.zero=2

"$CARNOT" train "$SRC/configs/swissroll.yaml" --set train.steps=20 --set checkpoint.every=10 --run-dir run > /dev/null
"$CARNOT" inspect run > inspect.out || { cat inspect.out; fail "inspect of a good run"; }
grep -q "blocks.3.fc2.weight *F32 \[128, 128\]" inspect.out || fail "inspect lists no tensors"
grep -q "matches state.json" inspect.out || fail "inspect checks no checksum"
printf 'X' | dd of=run/checkpoints/step_000000020/ema.safetensors bs=1 seek=100 conv=notrunc 2>/dev/null
set +e; "$CARNOT" inspect run > inspect2.out; rc=$?; set -e
[ $rc -eq 1 ] && grep -q "BROKEN step_000000020: ema.safetensors: checksum mismatch" inspect2.out \
  || { cat inspect2.out; fail "inspect of a damaged checkpoint (exit $rc)"; }
grep "BROKEN" inspect2.out
# The progress line: redrawn in place on a terminal, plain lines in log.txt and in a pipe.
script -q -c "'$CARNOT' train '$SRC/configs/swissroll.yaml' --set train.steps=200 --set log.every=50 --run-dir tty" tty.out > /dev/null
[ "$(grep -c $'\r\033\[K' tty.out)" -ge 1 ] || fail "no in-place progress line on a terminal"
[ "$(grep -c '^step' tty/log.txt)" -eq 4 ] || fail "log.txt should hold 4 plain progress lines"
"$CARNOT" train "$SRC/configs/swissroll.yaml" --set train.steps=200 --set log.every=50 --run-dir piped | cat > piped.out
[ "$(grep -c $'\r' piped.out)" -eq 0 ] && [ "$(grep -c '^step' piped.out)" -eq 4 ] || fail "piped output should be plain lines"
echo "ok: progress line live on a terminal, plain otherwise"
echo "PASS"
