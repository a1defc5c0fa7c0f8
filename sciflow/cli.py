"""Command line: ``sciflow data make | data import | train | evaluate | list | bench``. Thin: parse, call the API."""

from __future__ import annotations

import argparse
import sys

from sciflow.catalog import SECTIONS


def _parser():
    from sciflow import __version__

    p = argparse.ArgumentParser(prog="sciflow", description="Neural surrogates of fluid flows, proven against CFD.")
    p.add_argument("--version", action="version", version=f"sciflow {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="reference datasets").add_subparsers(dest="data_command", required=True)
    make = data.add_parser("make", help="run a dataset recipe")
    make.add_argument("recipe", help="recipe file, or the name of a bundled recipe (sciflow list recipes)")
    make.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe param")
    make.add_argument("--out", default=None, help="output file (default: <data dir>/<recipe file>)")
    make.add_argument("--quiet", action="store_true")
    imp = data.add_parser("import", help="convert CFD data (vtk, openfoam, pdebench, the_well) to a sciflow netCDF file")
    imp.add_argument("format", choices=["vtk", "openfoam", "pdebench", "the_well"])
    imp.add_argument("source", help="file or directory to read")
    imp.add_argument("--out", required=True, help="netCDF file to write")
    imp.add_argument("--location", default=None, choices=["auto", "point", "cell"], help="vtk: point or cell data")
    imp.add_argument("--time", default=None, help="openfoam: all | latest | a time-directory name")
    imp.add_argument("--fields", default=None, help="openfoam: fields to read; pdebench seed groups: channel names "
                     "(comma-separated)")
    imp.add_argument("--fractions", default=None, metavar="TRAIN,VALIDATION,TEST",
                     help="pdebench/the_well: split fractions in file order (default 0.8,0.1,0.1)")

    tr = sub.add_parser("train", help="train a surrogate from a YAML spec")
    tr.add_argument("spec", help="spec file, the name of a bundled config (sciflow list configs), "
                                 "or a run directory with --resume")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a spec key (a.b.c=v)")
    tr.add_argument("--out", default=None, help="run directory (default: runs/<name>)")
    tr.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace an existing run in the run directory (its checkpoints and evaluation are deleted)")
    tr.add_argument("--evaluate", action="store_true", help="evaluate against the reference when training ends")
    tr.add_argument("--quiet", action="store_true")

    ev = sub.add_parser("evaluate", help="evaluate a run against its reference")
    ev.add_argument("run")
    ev.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="a parametric run at another value of its input (e.g. Re=400)")
    ev.add_argument("--set", action="append", default=[], metavar="evaluation.KEY=VALUE",
                    help="evaluate another way, e.g. evaluation.constraints=[bulk_flow] "
                         "(written to evaluation_KEY/, the spec's own evaluation kept)")
    ev.add_argument("--quiet", action="store_true")

    ex = sub.add_parser("export", help="write a shareable weights-only model (model.safetensors + config.json)")
    ex.add_argument("run")
    ex.add_argument("--out", required=True, help="directory to write")
    ex.add_argument("--checkpoint", default="last.pt", help="last.pt (default) or best.pt")
    ls = sub.add_parser("list", help="bundled configs, recipes and tables; registered problems, models, objectives")
    ls.add_argument("section", nargs="*", metavar="SECTION", help=f"any of {', '.join(SECTIONS)} (default: all)")

    be = sub.add_parser("bench", help="run a benchmark script from benchmarks/")
    be.add_argument("name", help="benchmark name, e.g. pinn_cavity")
    be.add_argument("args", nargs=argparse.REMAINDER)
    return p


def _ignore_further_interrupts():
    """The run has stopped and its state is on disk: one more Ctrl-C while the interpreter shuts down
    would only print a traceback from its exit handlers."""
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not in the main thread
        pass


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from sciflow.errors import Interrupted, SciflowError

    try:
        if args.command == "data" and args.data_command == "import":
            from sciflow.data.importers import import_file

            print(import_file(args.format, args.source, args.out, **_import_options(args)))
        elif args.command == "data":
            from sciflow.data.recipes import make_dataset, parse_value

            overrides = {}
            for item in args.set:
                if "=" not in item:
                    raise SciflowError(f"--set {item}: expected KEY=VALUE")
                k, v = item.split("=", 1)
                overrides[k] = parse_value(v)
            path = make_dataset(args.recipe, overrides, args.out, progress=not args.quiet)
            print(path)
        elif args.command == "train":
            from pathlib import Path

            from sciflow.api import evaluate, train

            spec, out = args.spec, args.out
            if Path(spec).is_dir() and not args.resume:
                raise SciflowError(f"{spec} is a directory; to continue the run in it use "
                                   f"`sciflow train {spec} --resume`")
            if args.resume and Path(spec).is_dir():
                out = out or spec
                spec = str(Path(spec) / "spec.yaml")
            elif args.resume and out is None:
                from sciflow.spec import load_spec

                try:
                    out = str(Path("runs") / load_spec(spec, args.set).name)
                except SciflowError as e:
                    if Path(spec).exists():
                        raise
                    raise SciflowError(f"nothing to resume: {spec} is not a run directory, and {e}") from e
            run_dir = train(spec, args.set, out=out, resume=args.resume, progress=not args.quiet,
                            overwrite=args.overwrite)
            if args.evaluate:
                m = evaluate(run_dir, progress=not args.quiet)
                _print_metrics(m)
            print(run_dir)
        elif args.command == "evaluate":
            from sciflow.api import evaluate

            params = {}
            for item in args.param:
                name, sep, value = item.partition("=")
                try:
                    params[name] = float(value)
                except ValueError:
                    raise SciflowError(f"--param {item}: expected NAME=NUMBER") from None
            from sciflow.data.recipes import parse_value

            overrides = {}
            for item in args.set:
                key, sep, value = item.partition("=")
                if not sep or not key.startswith("evaluation.") or "." in key[len("evaluation."):]:
                    raise SciflowError(f"--set {item}: expected evaluation.KEY=VALUE (only the evaluation "
                                       "section can change after training)")
                overrides[key[len("evaluation."):]] = parse_value(value)
            m = evaluate(args.run, progress=not args.quiet, params=params or None, evaluation=overrides or None)
            _print_metrics(m)
            print(m["evaluation_dir"] + "/metrics.json")
        elif args.command == "export":
            from sciflow.api import export_model

            print(export_model(args.run, args.out, args.checkpoint))
        elif args.command == "list":
            unknown = [s for s in args.section if s not in SECTIONS]
            if unknown:
                raise SciflowError(f"list: unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
            _print_catalog(args.section or SECTIONS)
        elif args.command == "bench":
            import re
            import runpy

            # benchmarks live in a source checkout, not in the package: ./benchmarks, else the checkout holding sciflow/
            import sciflow

            if not re.fullmatch(r"[A-Za-z0-9_]+", args.name):
                raise SciflowError(f"bench {args.name!r}: a benchmark is named by its file in benchmarks/ "
                                   "(letters, digits, '_'), e.g. pinn_cavity")
            folders = [Path("benchmarks"), Path(sciflow.__file__).resolve().parents[1] / "benchmarks"]
            script = next((f / f"{args.name}.py" for f in folders if (f / f"{args.name}.py").exists()), None)
            if script is None:
                raise SciflowError(f"benchmark not found: {args.name}.py in {' or '.join(str(f) for f in folders)} "
                                   "(benchmarks come with a source checkout of sciflow)")
            sys.argv = [str(script)] + args.args
            runpy.run_path(str(script), run_name="__main__")
    except Interrupted as exc:
        _ignore_further_interrupts()
        print(f"sciflow: interrupted: {exc}", file=sys.stderr)
        return exc.exit_code
    except SciflowError as exc:
        print(f"sciflow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _ignore_further_interrupts()
        print("sciflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout has gone (`sciflow list | head`): stop quietly, as a shell tool does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    return 0


def _import_options(args) -> dict:
    """The options of ``data import`` that apply to its format (others given are an error)."""
    from sciflow.errors import SciflowError

    given = {k: getattr(args, k) for k in ("location", "time", "fields", "fractions") if getattr(args, k) is not None}
    allowed = {"vtk": {"location"}, "openfoam": {"time", "fields"}, "pdebench": {"fractions", "fields"},
               "the_well": {"fractions"}}[args.format]
    wrong = sorted(set(given) - allowed)
    if wrong:
        raise SciflowError(f"data import {args.format}: option(s) {['--' + w for w in wrong]} do not apply; "
                           f"it takes {['--' + a for a in sorted(allowed)]}")
    if "fields" in given:
        given["fields"] = [f.strip() for f in given["fields"].split(",") if f.strip()]
    if "fractions" in given:
        try:
            given["fractions"] = tuple(float(f) for f in given["fractions"].split(","))
        except ValueError:
            raise SciflowError(f"--fractions {args.fractions}: expected three numbers, e.g. 0.8,0.1,0.1") from None
    return given


def _print_catalog(sections):
    import shutil

    from sciflow.catalog import catalog

    width = shutil.get_terminal_size((100, 20)).columns
    for section in sections:
        entries = catalog(section)
        print(f"{section} ({len(entries)}):")
        pad = max(map(len, entries), default=0) + 2
        for name, text in entries.items():
            line = f"  {name:<{pad}}{text}"
            print(line if len(line) <= width else line[: width - 1] + "…")


def _print_metrics(m: dict, most: int = 20):
    """The run's headline metrics (every numeric error metric, up to ``most`` lines) and its training time."""
    from sciflow.evaluation.report import headline_metrics

    shown = list(headline_metrics(m).items())
    if "train_seconds" in m:
        shown.append(("train_seconds", m["train_seconds"]))
    width = max((len(k) for k, _ in shown[:most]), default=0)
    for k, v in shown[:most]:
        print(f"  {k:>{width}s} = {v:.4g}" if isinstance(v, float) else f"  {k:>{width}s} = {v}")
    if len(shown) > most:
        print(f"  ... {len(shown) - most} more in metrics.json")


if __name__ == "__main__":
    sys.exit(main())
