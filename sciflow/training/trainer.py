"""The one training loop, shared by every model family. It knows losses, not PDEs.

``Trainer(spec, model, objective, run_dir).fit(resume)`` runs the spec's phases in order
(Adam-family phases with a schedule, then L-BFGS), logs ``metrics.csv`` (and TensorBoard
when installed), writes ``checkpoints/last.pt`` every ``checkpoint_every`` steps and at the
end, keeps ``checkpoints/best.pt`` by validation metric when the objective validates, and
stops with a message naming the step and loss term on NaN/inf. Only finite weights are saved
and the previous ``last.pt`` is kept as ``last.prev.pt``; when the loss turns non-finite right
after a save, the saved (never evaluated) weights move to ``last.diverged.pt`` and
``last.prev.pt`` becomes ``last.pt`` again, so the run directory is always resumable from a
good state. SIGINT, SIGTERM and SIGUSR1 finish the current step, save a resumable checkpoint
and end ``fit`` with the signal's number (``Interrupted``). ``fit(resume=True)`` restores
weights, optimiser, step, RNG and objective state, so the continued run reproduces the losses
of an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from sciflow.errors import Diverged, Interrupted, SciflowError
from sciflow.models.base import unwrap
from sciflow.training.checkpoint import (link_or_copy, load_checkpoint, non_finite_weights, previous_path,
                                         resume_checkpoint, rng_state, save_checkpoint, set_rng_state)
from sciflow.training.distributed import all_reduce_mean
from sciflow.training.metrics_csv import read_metrics_lines
from sciflow.training.optim import learning_rate, make_optimizer


STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, n))


class Trainer:
    def __init__(self, spec, model, objective, run_dir, device, dtype, generator, rank=0, world=1,
                 progress: bool = True):
        self.spec = spec
        self.cfg = spec.training
        self.model = model
        self.objective = objective
        self.run_dir = Path(run_dir)
        self._lbfgs_last: float | None = None  # L-BFGS loss after its last step (a repeat means a stuck line search)
        self.device, self.dtype = device, dtype
        self.generator = generator
        self.rank, self.world = rank, world
        self.progress = progress and rank == 0
        self.step = 0
        self.best = math.inf
        self.elapsed = 0.0  # wall seconds spent in training steps
        self.cpu_elapsed = 0.0  # CPU seconds of the process in those steps (load-independent on a shared machine)
        self._stop = False
        self._signum = None
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.metrics_path = self.run_dir / "metrics.csv"
        self._tb = None

    # ---------------------------------------------------------------- phases
    def _phase_at(self, step):
        start = 0
        for i, ph in enumerate(self.cfg.phases):
            if step < start + ph.steps:
                return i, ph, step - start
            start += ph.steps
        return len(self.cfg.phases), None, 0

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.cfg.phases)

    # ---------------------------------------------------------------- checkpoint
    def _payload(self, phase_idx, optimizer):
        inner = unwrap(self.model)
        return {
            "step": self.step, "phase": phase_idx, "model": inner.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
            "rng": rng_state(self.generator), "objective": self.objective.state_dict(),
            "best": self.best, "elapsed": self.elapsed, "cpu_elapsed": self.cpu_elapsed, "spec": self.spec.to_dict(),
        }

    def save(self, phase_idx, optimizer, name="last.pt"):
        inner = unwrap(self.model)
        bad = non_finite_weights(inner.state_dict())
        if bad:
            raise Diverged(f"step {self.step}: weights {bad[:3]} became non-finite; {self._good_checkpoint()}")
        if self.rank == 0:
            save_checkpoint(self.ckpt_dir / name, self._payload(phase_idx, optimizer), keep_previous=name == "last.pt")

    def _good_checkpoint(self) -> str:
        """Set ``last.pt`` to the newest checkpoint whose weights were evaluated with a finite loss
        (weights saved at the current step never were); returns a sentence naming it."""
        last = self.ckpt_dir / "last.pt"
        if self.rank == 0 and last.exists():
            saved_step = load_checkpoint(last)["step"]
            prev = previous_path(last)
            if saved_step >= self.step:  # last.pt stays in place until the good one replaces it
                link_or_copy(last, self.ckpt_dir / "last.diverged.pt")
                if prev.exists():
                    os.replace(prev, last)
                else:
                    last.unlink()
        if last.exists():
            step = load_checkpoint(last)["step"]
            return (f"the last good checkpoint is {last} (step {step}); resume from it with a lower learning rate, "
                    f"e.g. `sciflow train {self.run_dir} --resume --set training.phases.N.lr=...`")
        return "no checkpoint was written before it diverged; lower the learning rate in the spec and train again"

    def _restore(self):
        _, ck, _ = resume_checkpoint(self.ckpt_dir, map_location=self.device)
        unwrap(self.model).load_state_dict(ck["model"])
        self.step, self.best, self.elapsed = ck["step"], ck["best"], ck.get("elapsed", 0.0)
        self.cpu_elapsed = ck.get("cpu_elapsed", 0.0)
        self.objective.load_state_dict(ck["objective"])
        set_rng_state(ck["rng"], self.generator)
        self._truncate_metrics(self.step)
        return ck

    # ---------------------------------------------------------------- logging
    def _truncate_metrics(self, step):
        """Drop the rows logged after ``step`` (the checkpoint a resume starts from)."""
        if self.rank != 0 or not self.metrics_path.exists():
            return
        header, rows, raw = read_metrics_lines(self.metrics_path)
        keep = [header] + [cells for row, cells in zip(rows, raw) if row["step"] <= step]
        from sciflow.data.io import atomic_write_text

        atomic_write_text(self.metrics_path, "".join(",".join(r) + "\n" for r in keep) if header else "")

    def _log(self, phase_idx, lr, total, terms):
        if self.rank != 0:
            return
        row = {"step": self.step, "phase": phase_idx, "lr": lr, "loss": float(total),
               **{k: float(v) for k, v in terms.items()}, "elapsed_s": round(self.elapsed, 3),
               "cpu_s": round(self.cpu_elapsed, 3)}
        new = not self.metrics_path.exists() or self.metrics_path.stat().st_size == 0
        if not new:
            with open(self.metrics_path) as f:
                header = f.readline().strip().split(",")
            if header != list(row):  # a later phase adds columns (e.g. validation): rewrite wider
                new = True
                with open(self.metrics_path) as f:
                    old = list(csv.DictReader(f))
                header = list(dict.fromkeys(header + list(row)))
                with open(self.metrics_path, "w", newline="") as f:
                    w = csv.DictWriter(f, header)
                    w.writeheader()
                    w.writerows(old)
                new = False
            row = {k: row.get(k, "") for k in header}
        with open(self.metrics_path, "a", newline="") as f:
            w = csv.DictWriter(f, list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("step",) and v != "":
                    self._tb.add_scalar(k, float(v), self.step)

    def _open_tensorboard(self):
        if self.rank != 0 or not self.cfg.tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:  # tensorboard not installed: metrics.csv only
            return
        self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    # ---------------------------------------------------------------- one step
    def _evaluate_loss(self, step):
        amp = self.spec.amp == "bf16"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
            total, terms = self.objective.loss(self.model, step)
        for k, v in terms.items():
            if not torch.isfinite(v).all():
                raise Diverged(f"step {step}: loss term '{k}' is {float(v.detach())} (non-finite); "
                               f"{self._good_checkpoint()}")
        if not torch.isfinite(total):
            raise Diverged(f"step {step}: total loss is {float(total.detach())} (non-finite); {self._good_checkpoint()}")
        return total, terms

    def _train_step(self, optimizer, phase, k):
        if phase.optimizer in ("lbfgs", "bfgs", "ssbroyden"):  # quasi-Newton: a closure and a line search
            cache = {}

            def closure():
                optimizer.zero_grad(set_to_none=True)
                total, terms = self._evaluate_loss(self.step)
                total.backward()
                if "terms" not in cache:
                    cache["total"], cache["terms"] = total.detach(), {k: v.detach() for k, v in terms.items()}
                return all_reduce_mean(total, self.world)

            if self.objective.resample(self.step):
                optimizer.state.clear()  # curvature pairs of the old points do not describe the new loss
            optimizer.step(closure)
            # A failed line search leaves L-BFGS where it was, and with no new curvature pair it
            # would retry the same direction forever: restart its memory (steepest descent) then.
            loss_now = float(cache["total"])
            if loss_now == self._lbfgs_last:
                optimizer.state.clear()
            self._lbfgs_last = loss_now
            return cache["total"], cache["terms"], phase.lr
        lr = learning_rate(phase, k)
        for g in optimizer.param_groups:
            g["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        total, terms = self._evaluate_loss(self.step)
        total.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        optimizer.step()
        return total.detach(), {k: v.detach() for k, v in terms.items()}, lr

    # ---------------------------------------------------------------- main loop
    def fit(self, resume: bool = False, stop_after: int | None = None):
        """Run the phases; ``stop_after`` stops (resumably, as Ctrl-C does) once that step is reached."""
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        ck = self._restore() if resume else None
        if not resume and self.metrics_path.exists():
            self.metrics_path.unlink()
        self._open_tensorboard()
        old_handlers = {}
        if self.rank == 0:
            try:
                old_handlers = {s: signal.signal(s, self._on_signal) for s in STOP_SIGNALS}
            except ValueError:  # not in the main thread: no handlers
                old_handlers = {}
        if not resume:
            self.save(0, None)  # step 0: a good state to return to if the very first update diverges
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not self.progress, desc=self.spec.name,
                   dynamic_ncols=True)
        optimizer, opt_phase = None, None
        try:
            while self.step < self.total_steps and not self._stop:
                idx, phase, k = self._phase_at(self.step)
                if opt_phase != idx:
                    optimizer = make_optimizer(phase, self.model.parameters())
                    if ck is not None and ck["phase"] == idx and ck["optimizer"] is not None:
                        optimizer.load_state_dict(ck["optimizer"])
                        for g in optimizer.param_groups:  # the spec's lr wins (it may be lowered on resume)
                            g["lr"] = phase.lr
                    ck, opt_phase = None, idx
                t0, c0 = time.perf_counter(), time.process_time()
                total, terms, lr = self._train_step(optimizer, phase, k)
                self.elapsed += time.perf_counter() - t0
                self.cpu_elapsed += time.process_time() - c0
                self.step += 1
                if self.step % self.cfg.log_every == 0 or self.step == self.total_steps:
                    self._log(idx, lr, total, terms)
                    bar.set_postfix(loss=f"{float(total):.3e}", phase=phase.optimizer)
                self._maybe_validate(idx, optimizer)
                if self.step % self.cfg.checkpoint_every == 0:
                    self.save(idx, optimizer)
                bar.update(1)
                if stop_after is not None and self.step >= stop_after:
                    self._stop = True
            self.save(opt_phase if opt_phase is not None else 0, optimizer)
        finally:
            bar.close()
            for sig, old in old_handlers.items():
                signal.signal(sig, old)
            if self._tb is not None:
                self._tb.close()
        if self._signum is not None:
            name = signal.Signals(self._signum).name
            raise Interrupted(f"{name}: stopped at step {self.step} of {self.total_steps}; a resumable checkpoint is "
                              f"{self.ckpt_dir / 'last.pt'} (continue with `sciflow train {self.run_dir} --resume`)",
                              self._signum, self.step)
        return not self._stop

    def _maybe_validate(self, idx, optimizer):
        every = self.cfg.validate_every
        if not every or self.step % every:
            return
        inner = unwrap(self.model)
        inner.eval()
        with torch.no_grad():
            metrics = self.objective.validate(inner)
        inner.train()
        if not metrics:
            return
        if self.rank == 0:
            self._log(idx, float("nan"), float("nan"), {f"val_{k}": torch.tensor(v) for k, v in metrics.items()})
        key = next(iter(metrics))
        if metrics[key] < self.best:
            self.best = metrics[key]
            self.save(idx, optimizer, "best.pt")

    def _on_signal(self, signum, frame):
        if self._stop and signum == signal.SIGINT:  # second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self._stop, self._signum = True, signum
        import sys

        print(f"\n{signal.Signals(signum).name}: stopping after this step; a resumable checkpoint will be written"
              " (Ctrl-C again to abort)", file=sys.stderr, flush=True)
