"""Train the gender classifier: Keras MobileNetV2 (ImageNet start) on cached face chips.

    python -m export.train --chips build/chips --out build/train [--head-epochs 1] [--fine-epochs 6]

Head first on the frozen backbone, then the whole network fine-tuned with BatchNormalization kept in
inference mode (Keras' MobileNetV2 BN momentum is 0.999: a short fine-tune in training mode leaves the
moving statistics stale, see ../shared/MEASURED.md). Augmentation lives in the tf.data pipeline, never in
the model. Seeded; a checkpoint after every epoch; rerunning the same command resumes from the last one;
the history goes to {out}/history.csv and the best epoch by validation accuracy to {out}/best.keras.
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from export.common import SHARED_DIR  # noqa: E402
from gendersort.labels import LABELS  # noqa: E402

IMAGENET_WEIGHTS = SHARED_DIR / "weights" / "mobilenet_v2_1.0_imagenet_notop.weights.h5"


def load_chips(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["chips"], data["labels"]


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


def augment_batch(images: tf.Tensor, rotate: keras.layers.Layer) -> tf.Tensor:
    """Flip, zoom/shift, small rotation, colour jitter, greyscale, blur, low resolution: per example."""
    batch = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    images = tf.where(tf.random.uniform([batch, 1, 1, 1]) < 0.5, tf.reverse(images, axis=[2]), images)
    scale = tf.random.uniform([batch, 1], 0.88, 1.08)
    shift = tf.random.uniform([batch, 2], -0.06, 0.06)
    centre = 0.5 + shift
    boxes = tf.concat([centre - scale / 2, centre + scale / 2], axis=1)
    images = tf.image.crop_and_resize(images, boxes, tf.range(batch), tf.cast([size, size], tf.int32))
    images = rotate(images, training=True)
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


def datasets(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], batch_size: int,
             seed: int) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    rotate = keras.layers.RandomRotation(0.03, fill_mode="constant", fill_value=0.0, seed=seed)
    one_hot = np.eye(len(LABELS), dtype=np.float32)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((train[0], one_hot[train[1]]))
        .shuffle(len(train[1]), seed=seed, reshuffle_each_iteration=True)
        .map(lambda x, y: (recompress(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=True)
        .map(lambda x, y: (augment_batch(tf.cast(x, tf.float32), rotate), y),
             num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )
    val_ds = (tf.data.Dataset.from_tensor_slices((val[0], one_hot[val[1]]))
              .batch(256).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(2))
    return train_ds, val_ds


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


def train(args: argparse.Namespace) -> Path:
    keras.utils.set_random_seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    train_data, val_data = load_chips(args.chips / "train.npz"), load_chips(args.chips / "val.npz")
    if args.limit:
        train_data = (train_data[0][: args.limit], train_data[1][: args.limit])
        val_data = (val_data[0][: args.limit], val_data[1][: args.limit])
    size = train_data[0].shape[1]
    print(f"train {len(train_data[1])} chips {np.bincount(train_data[1]).tolist()}, "
          f"val {len(val_data[1])} chips {np.bincount(val_data[1]).tolist()}, chip size {size}", flush=True)
    train_ds, val_ds = datasets(train_data, val_data, args.batch_size, args.seed)
    if args.steps:
        train_ds = train_ds.take(args.steps)
    history_csv, last_path = out / "history.csv", out / "last.keras"
    history = read_history(history_csv) if last_path.exists() else []
    done = len(history)
    model, base = build_model(size, None if args.random_init else IMAGENET_WEIGHTS)
    if done:
        model.load_weights(last_path)
        print(f"resuming after epoch {done} from {last_path}", flush=True)
    elif args.init:
        model.load_weights(args.init)
        print(f"starting from the weights of {args.init}", flush=True)
    best_checkpoint = keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_accuracy",
                                                      save_best_only=True)
    if history:  # a resumed run must not replace the best epoch so far with a worse one
        best_checkpoint.best = max(float(row["val_accuracy"]) for row in history)
    callbacks = [
        keras.callbacks.CSVLogger(str(history_csv), append=done > 0),
        keras.callbacks.ModelCheckpoint(str(last_path)),
        best_checkpoint,
    ]
    if done < args.head_epochs:
        base.trainable = False
        compile_for(model, args.head_lr, args.label_smoothing)
        model.fit(train_ds, validation_data=val_ds, epochs=args.head_epochs, initial_epoch=done,
                  callbacks=callbacks, verbose=2)
        done = args.head_epochs
        callbacks[0] = keras.callbacks.CSVLogger(str(history_csv), append=True)
    total = args.head_epochs + args.fine_epochs
    if done < total:
        base.trainable = True
        steps_per_epoch = args.steps or len(train_data[1]) // args.batch_size
        schedule = keras.optimizers.schedules.CosineDecay(
            args.fine_lr, decay_steps=max(1, args.fine_epochs * steps_per_epoch), alpha=0.02)
        compile_for(model, schedule, args.label_smoothing)
        model.optimizer.iterations.assign((done - args.head_epochs) * steps_per_epoch)
        model.fit(train_ds, validation_data=val_ds, epochs=total, initial_epoch=done,
                  callbacks=callbacks, verbose=2)
    best = out / "best.keras"
    print(f"best checkpoint: {best}", flush=True)
    return best


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=Path, default=Path("build/chips"))
    parser.add_argument("--out", type=Path, default=Path("build/train"))
    parser.add_argument("--head-epochs", type=int, default=1)
    parser.add_argument("--fine-epochs", type=int, default=6)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--fine-lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--label-smoothing", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--limit", type=int, default=0, help="chips per split (smoke tests)")
    parser.add_argument("--steps", type=int, default=0, help="steps per epoch (smoke tests)")
    parser.add_argument("--random-init", action="store_true", help="skip the ImageNet weights (smoke tests)")
    parser.add_argument("--init", type=Path, help="start from this checkpoint (e.g. a fine-tune of a trained "
                        "model with --head-epochs 0)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())
