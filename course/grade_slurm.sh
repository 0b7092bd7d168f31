#!/usr/bin/env bash
# Grade a class on a SLURM cluster: one array task per shard, then one merge job.
#
#   bash course/grade_slurm.sh submit        # from the course folder, on the login node
#
# submits `sbatch --array=1-$SHARDS ... shard` and, after every task has succeeded,
# `sbatch --dependency=afterok:<array job> ... merge`. Each array task runs
#     vae-edu grade $SUBMISSIONS --shard $SLURM_ARRAY_TASK_ID/$SHARDS --out $OUT/parts/...
# and the merge job writes $OUT/grades.csv and $OUT/grades_feedback/ exactly as one run
# over the whole class would (see course/grading.md, "Classes larger than one machine").
#
# Settings (environment variables, all optional):
#   SUBMISSIONS  submissions folder, <student>/NN_topic.ipynb     (default: submissions)
#   SHARDS       number of shards = array tasks                   (default: 8)
#   OUT          output folder: parts/, grades.csv, feedback      (default: grading)
#   JOBS         notebooks graded at once per task  (default: the task's CPUs, else 2)
#   SEED         seed of the test inputs; default: each shard draws a secret one
#   VAE_EDU      the command                                      (default: vae-edu)
#   SBATCH_ARGS  extra sbatch options, e.g. "--partition=cpu --account=course"
#SBATCH --job-name=vae-edu-grade
#SBATCH --cpus-per-task=4
#SBATCH --mem-per-cpu=3G
#SBATCH --time=04:00:00
set -euo pipefail

SUBMISSIONS=${SUBMISSIONS:-submissions}
SHARDS=${SHARDS:-8}
OUT=${OUT:-grading}
JOBS=${JOBS:-${SLURM_CPUS_PER_TASK:-2}}
VAE_EDU=${VAE_EDU:-vae-edu}
seed_args=()
if [ -n "${SEED:-}" ]; then seed_args=(--seed "$SEED"); fi

case "${1:-}" in
  submit)
    mkdir -p "$OUT/logs"
    export SUBMISSIONS SHARDS OUT VAE_EDU
    # shellcheck disable=SC2086  # SBATCH_ARGS is a list of options
    array=$(sbatch --parsable ${SBATCH_ARGS:-} --array="1-${SHARDS}" \
      --output="$OUT/logs/shard-%a.log" --export=ALL "$0" shard)
    array=${array%%;*}  # "jobid;cluster" on multi-cluster sites
    # shellcheck disable=SC2086
    merge=$(sbatch --parsable ${SBATCH_ARGS:-} --dependency="afterok:${array}" \
      --cpus-per-task=1 --output="$OUT/logs/merge.log" --export=ALL "$0" merge)
    echo "submitted shards ${array} (1-${SHARDS}) and merge ${merge%%;*}; results in $OUT/"
    ;;
  shard)
    : "${SLURM_ARRAY_TASK_ID:?run the shards through 'grade_slurm.sh submit' (an array job)}"
    mkdir -p "$OUT/parts"
    $VAE_EDU grade "$SUBMISSIONS" --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" \
      --out "$OUT/parts/part-${SLURM_ARRAY_TASK_ID}-of-${SHARDS}.json" \
      --jobs "$JOBS" "${seed_args[@]}"
    ;;
  merge)
    $VAE_EDU grade merge "$OUT"/parts/part-*-of-"${SHARDS}".json --out "$OUT/grades.csv"
    ;;
  *)
    echo "usage: bash $0 submit   (then the array tasks run '$0 shard' and '$0 merge')" >&2
    exit 2
    ;;
esac
