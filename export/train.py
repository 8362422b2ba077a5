"""Train the gender classifier: Keras MobileNetV2 (ImageNet start) on cached face chips of several sets.

    python -m export.train --chips build/chips/tight --sets celeba fairface utkface allagefaces scut \\
        --out build/train [--source-weights celeba=0.3,fairface=0.3,...] [--init v2.keras]

Head first on the frozen backbone, then the whole network fine-tuned with BatchNormalization frozen in
inference mode (Keras' MobileNetV2 BN momentum is 0.999: a short fine-tune in training mode leaves the
moving statistics stale, see ../shared/MEASURED.md; and a model rebuilt from a folded graph has no batch
statistics to learn from). Every epoch draws `--epoch-size` chips so that each
source weighs as `--source-weights` says and, within a source, women and men weigh the same, whatever the
file counts (CelebA alone would otherwise be two fifths of what the network sees). Augmentation lives in
the tf.data pipeline, never in the model; the chip's window is shifted, scaled and turned within the
margin export/chips.py cut around it, as a face found a pixel or two apart would be.

After every epoch each set's val chips are scored (women's and men's accuracy, balanced accuracy) and the
choosing rule (RULE below) picks the best epoch, saved to {out}/best.keras. Seeded; a checkpoint after
every epoch; rerunning the same command resumes from the last one; the history goes to {out}/history.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from export.common import SHARED_DIR, centre_crop  # noqa: E402
from gendersort.labels import LABELS  # noqa: E402

IMAGENET_WEIGHTS = SHARED_DIR / "weights" / "mobilenet_v2_1.0_imagenet_notop.weights.h5"
DEFAULT_SOURCE_WEIGHTS = "celeba=0.3,fairface=0.3,utkface=0.2,allagefaces=0.1,scut=0.1"
# The choosing rule, written before training: the mean over the val sets of balanced accuracy, for a
# candidate whose every set has women's and men's accuracy at or above FLOOR; a candidate below the floor
# ranks below every one above it, by its worst per-gender accuracy.
FLOOR = 0.90
MALE = LABELS.index("male")


@dataclass
class ChipSet:
    """Margin chips of one split of several sets, with the set (source) of each."""

    chips: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    names: list[str]
    margin: int
    geometry: dict

    @property
    def size(self) -> int:
        return self.chips.shape[1] - 2 * self.margin

    def centres(self, indices: np.ndarray) -> np.ndarray:
        """The runtime's chips: the centre of each margin chip."""
        return centre_crop(self.chips[indices], self.margin)


def load_chip_set(chips_dir: Path, sets: list[str], split: str, per_set: int = 0) -> ChipSet:
    """The chips of `split` of every set; `per_set` > 0 takes that many, evenly spread, of each."""
    parts, labels, sources, margins, geometries = [], [], [], set(), set()
    for number, name in enumerate(sets):
        with np.load(chips_dir / f"{name}-{split}.npz") as data:
            keep = np.arange(len(data["labels"]))
            if per_set and len(keep) > per_set:
                keep = keep[:: len(keep) // per_set][:per_set]
            parts.append(data["chips"][keep])
            labels.append(data["labels"][keep])
            margins.add(int(data["margin"]))
            geometries.add(str(data["geometry"]))
        sources.append(np.full(len(keep), number))
    if len(margins) != 1 or len(geometries) != 1:
        raise SystemExit(f"the sets' chips were cut differently: margins {margins}, geometries {geometries}")
    return ChipSet(np.concatenate(parts), np.concatenate(labels), np.concatenate(sources), list(sets),
                   margins.pop(), json.loads(geometries.pop()))


def sampling_probabilities(chip_set: ChipSet, source_weights: dict[str, float]) -> np.ndarray:
    """Each chip's chance to be drawn: its source's weight, split evenly between the genders, then
    evenly between the chips of that source and gender."""
    probability = np.zeros(len(chip_set.labels))
    for number, name in enumerate(chip_set.names):
        for label in range(len(LABELS)):
            group = (chip_set.sources == number) & (chip_set.labels == label)
            if group.any():
                probability[group] = source_weights[name] / len(LABELS) / group.sum()
    return probability / probability.sum()


def build_model(size: int, weights: Path | None, dropout: float = 0.2) -> tuple[keras.Model, keras.Model]:
    """The classifier (float RGB 0-255 in, class probabilities out) and its backbone.

    Scaling to [-1, 1] is the model's first layer, so the exported graph carries it.
    """
    base = keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=1.0, include_top=False,
                                          weights=None)
    if weights is not None:
        base.load_weights(weights)
    inputs = keras.Input((size, size, 3), name="chip")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale_to_unit")(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(len(LABELS), activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="gender_mobilenetv2"), base


def jittered_window(images: tf.Tensor, size: int, margin: int) -> tf.Tensor:
    """The chip's window moved as a face found a little differently moves it: shifted up to 5 px,
    scaled 0.9-1.1, turned up to 8 degrees, mirrored for half; read from the margin around the chip, so
    there is real photo, not black, at the edges. With no change it is exactly the runtime's chip."""
    batch = tf.shape(images)[0]
    angle = tf.random.uniform([batch], -8.0, 8.0) * math.pi / 180
    scale = tf.random.uniform([batch], 0.9, 1.1)
    shift = tf.random.uniform([batch, 2], -5.0, 5.0)
    flip = tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    centre = (size - 1) / 2
    # Output pixel (x, y) reads input pixel (a0 x + a1 y + a2, b0 x + b1 y + b2).
    a0, a1 = cos * flip, -sin
    b0, b1 = sin * flip, cos
    a2 = centre + margin + shift[:, 0] - (a0 + a1) * centre
    b2 = centre + margin + shift[:, 1] - (b0 + b1) * centre
    zeros = tf.zeros([batch])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=[size, size], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="CONSTANT")


def lower_resolution(images: tf.Tensor, probability: float = 0.25) -> tf.Tensor:
    """Shrink some chips to 1/5-3/5 of their side and blow them back up.

    The detector finds faces down to MIN_FACE_SIZE, far smaller than the chip, and their chips reach the
    classifier this blurry; CelebA's crops are all sharp (eyes about 39 px apart), and a model trained only
    on them calls a quarter-size woman a man more often (measured: 98.5% -> 93.1% on val women).
    """
    batch, size = tf.shape(images)[0], tf.shape(images)[1:3]
    small = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform([], 0.2, 0.6), tf.int32)
    blurry = tf.image.resize(tf.image.resize(images, small, antialias=True), size)
    return tf.where(tf.random.uniform([batch, 1, 1, 1]) < probability, blurry, images)


def augment_batch(images: tf.Tensor, size: int, margin: int) -> tf.Tensor:
    """Window jitter and mirror, colour jitter, greyscale, blur, low resolution: per example."""
    batch = tf.shape(images)[0]
    images = jittered_window(images, size, margin)
    grey = tf.reduce_sum(images * [0.299, 0.587, 0.114], axis=-1, keepdims=True)
    saturation = tf.random.uniform([batch, 1, 1, 1], 0.6, 1.4)
    saturation = tf.where(tf.random.uniform([batch, 1, 1, 1]) < 0.1, 0.0, saturation)
    images = grey + saturation * (images - grey)
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.uniform([batch, 1, 1, 1], 0.7, 1.3)
    brightness = tf.random.uniform([batch, 1, 1, 1], -30.0, 30.0)
    images = (images - mean) * contrast + mean + brightness
    blurred = tf.nn.avg_pool2d(images, 3, 1, "SAME")
    images = tf.where(tf.random.uniform([batch, 1, 1, 1]) < 0.15, blurred, images)
    return tf.clip_by_value(lower_resolution(images), 0.0, 255.0)


def recompress(image: tf.Tensor) -> tf.Tensor:
    """JPEG re-compression at a random low quality for a fifth of the chips."""
    return tf.cond(tf.random.uniform([]) < 0.2,
                   lambda: tf.image.random_jpeg_quality(image, 30, 90),
                   lambda: image)


class EpochDraws:
    """Each epoch's chips, drawn with replacement by the sampling probabilities; seeded by the epoch's
    number, so a resumed run draws what the uninterrupted one would have."""

    def __init__(self, chip_set: ChipSet, probability: np.ndarray, epoch_size: int, seed: int,
                 first_epoch: int) -> None:
        self.chip_set, self.probability, self.epoch_size, self.seed = chip_set, probability, epoch_size, seed
        self.epoch = first_epoch
        self.one_hot = np.eye(len(LABELS), dtype=np.float32)

    def __call__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        for index in rng.choice(len(self.probability), self.epoch_size, p=self.probability):
            yield self.chip_set.chips[index], self.one_hot[self.chip_set.labels[index]]


def train_dataset(draws: EpochDraws, batch_size: int) -> tf.data.Dataset:
    side = draws.chip_set.chips.shape[1]
    size, margin = draws.chip_set.size, draws.chip_set.margin
    signature = (tf.TensorSpec((side, side, 3), tf.uint8), tf.TensorSpec((len(LABELS),), tf.float32))
    # repeat(): Keras keeps one iterator across epochs, so each epoch's draws are a new call of `draws`.
    return (tf.data.Dataset.from_generator(draws, output_signature=signature).repeat()
            .map(lambda x, y: (recompress(x), y), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size, drop_remainder=True)
            .map(lambda x, y: (augment_batch(tf.cast(x, tf.float32), size, margin), y),
                 num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(2))


def per_gender_scores(truth: np.ndarray, p_male: np.ndarray) -> dict[str, float]:
    male = truth == MALE
    predicted_male = p_male >= 0.5
    women = float((~predicted_male[~male]).mean()) if (~male).any() else float("nan")
    men = float(predicted_male[male].mean()) if male.any() else float("nan")
    return {"women": women, "men": men, "balanced": (women + men) / 2}


def rule_score(per_set: dict[str, dict[str, float]]) -> float:
    """RULE: the mean balanced accuracy when every set's women and men reach FLOOR, else the worst
    per-gender accuracy minus one (so it ranks below every candidate that reaches the floor)."""
    worst = min(min(scores["women"], scores["men"]) for scores in per_set.values())
    mean_balanced = float(np.mean([scores["balanced"] for scores in per_set.values()]))
    return mean_balanced if worst >= FLOOR else worst - 1.0


class SetScores(keras.callbacks.Callback):
    """After each epoch: every val set's women's, men's and balanced accuracy, and the rule's score,
    added to the epoch's logs (so the CSV history and the best checkpoint see them)."""

    def __init__(self, val: ChipSet) -> None:
        super().__init__()
        self.val = val
        self.chips = val.centres(np.arange(len(val.labels)))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        p_male = self.model.predict(self.chips, batch_size=256, verbose=0)[:, MALE]
        per_set = {}
        for number, name in enumerate(self.val.names):
            mine = self.val.sources == number
            per_set[name] = per_gender_scores(self.val.labels[mine], p_male[mine])
        if logs is not None:
            for name, scores in per_set.items():
                logs.update({f"{name}_{key}": value for key, value in scores.items()})
            logs["mean_balanced"] = float(np.mean([scores["balanced"] for scores in per_set.values()]))
            logs["rule_score"] = rule_score(per_set)
        print(" ".join(f"{name} w{s['women']:.3f} m{s['men']:.3f}" for name, s in per_set.items()),
              flush=True)


def unfreeze_all_but_normalization(base: keras.Model) -> None:
    """Make the backbone trainable but its BatchNormalization layers frozen, which in Keras 3 also runs
    them in inference mode. `base(x, training=False)` alone does not: measured, a model called with
    training=True still normalises by the batch (v2's rebuilt weights fell from 97% to chance)."""
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def read_history(history_csv: Path) -> list[dict[str, str]]:
    if not history_csv.exists():
        return []
    with history_csv.open() as handle:
        return list(csv.DictReader(handle))


def compile_for(model: keras.Model, learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
                label_smoothing: float) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                  metrics=["accuracy"])


def parse_weights(text: str, sets: list[str]) -> dict[str, float]:
    weights = {name: float(value) for name, value in (part.split("=") for part in text.split(","))}
    missing = [name for name in sets if name not in weights]
    if missing:
        raise SystemExit(f"--source-weights gives no weight for {', '.join(missing)}")
    return weights


def train(args: argparse.Namespace) -> Path:
    keras.utils.set_random_seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    train_set = load_chip_set(args.chips, args.sets, "train")
    val_set = load_chip_set(args.chips, args.sets, "val", args.val_per_set)
    probability = sampling_probabilities(train_set, parse_weights(args.source_weights, args.sets))
    for number, name in enumerate(train_set.names):
        mine = train_set.sources == number
        counts = np.bincount(train_set.labels[mine], minlength=2).tolist()
        print(f"{name}: train {counts} (female, male), drawn {probability[mine].sum():.1%}; "
              f"val {int((val_set.sources == number).sum())}", flush=True)
    print(f"chip size {train_set.size} (+{train_set.margin} margin), geometry {train_set.geometry}",
          flush=True)
    history_csv, last_path = out / "history.csv", out / "last.keras"
    history = read_history(history_csv) if last_path.exists() else []
    done = len(history)
    draws = EpochDraws(train_set, probability, args.epoch_size, args.seed, done)
    train_ds = train_dataset(draws, args.batch_size)
    model, base = build_model(train_set.size, None if args.random_init else IMAGENET_WEIGHTS)
    if done:
        model.load_weights(last_path)
        print(f"resuming after epoch {done} from {last_path}", flush=True)
    elif args.init:
        model.load_weights(args.init)
        print(f"starting from the weights of {args.init}", flush=True)
    best_checkpoint = keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="rule_score",
                                                      mode="max", save_best_only=True)
    if history:  # a resumed run must not replace the best epoch so far with a worse one
        best_checkpoint.best = max(float(row["rule_score"]) for row in history)
    callbacks = [
        SetScores(val_set),
        keras.callbacks.CSVLogger(str(history_csv), append=done > 0),
        keras.callbacks.ModelCheckpoint(str(last_path)),
        best_checkpoint,
    ]
    steps_per_epoch = args.epoch_size // args.batch_size
    if done < args.head_epochs:
        base.trainable = False
        compile_for(model, args.head_lr, args.label_smoothing)
        model.fit(train_ds, epochs=args.head_epochs, initial_epoch=done, steps_per_epoch=steps_per_epoch,
                  callbacks=callbacks, verbose=2)
        done = args.head_epochs
        callbacks[1] = keras.callbacks.CSVLogger(str(history_csv), append=True)
    total = args.head_epochs + args.fine_epochs
    if done < total:
        unfreeze_all_but_normalization(base)
        schedule = keras.optimizers.schedules.CosineDecay(
            args.fine_lr, decay_steps=max(1, args.fine_epochs * steps_per_epoch), alpha=0.02)
        compile_for(model, schedule, args.label_smoothing)
        model.optimizer.iterations.assign((done - args.head_epochs) * steps_per_epoch)
        model.fit(train_ds, epochs=total, initial_epoch=done, steps_per_epoch=steps_per_epoch,
                  callbacks=callbacks, verbose=2)
    best = out / "best.keras"
    print(f"best checkpoint: {best}", flush=True)
    return best


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=Path("build/chips"))
    parser.add_argument("--sets", nargs="+", default=["celeba", "fairface", "utkface", "allagefaces", "scut"])
    parser.add_argument("--source-weights", default=DEFAULT_SOURCE_WEIGHTS,
                        help="each set's share of the chips drawn, as name=weight,...")
    parser.add_argument("--out", type=Path, default=Path("build/train"))
    parser.add_argument("--epoch-size", type=int, default=60000, help="chips drawn per epoch")
    parser.add_argument("--val-per-set", type=int, default=2000, help="val chips scored per set (0: all)")
    parser.add_argument("--head-epochs", type=int, default=1)
    parser.add_argument("--fine-epochs", type=int, default=6)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--fine-lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--label-smoothing", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--random-init", action="store_true", help="skip the ImageNet weights (smoke tests)")
    parser.add_argument("--init", type=Path, help="start from this checkpoint (e.g. a fine-tune of a trained "
                        "model with --head-epochs 0)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())
