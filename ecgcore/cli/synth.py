"""`synth --n N --fs FS --seed S [--classes ...] [--rhythms ...] --out PATH`: write a labelled synthetic data set
(a folder, or one .npz)."""

from __future__ import annotations

from pathlib import Path


def register(sub):
    p = sub.add_parser("synth", help="write a labelled synthetic 12-lead ECG data set (a folder or .npz)",
                       description="Synthesize N labelled 12-lead ECGs (targets hr, pr, qrs, qt; a class label "
                                   "with --classes) and save them as a data set folder (signals.npy, read "
                                   "memory-mapped, records.npz, dataset.json: any size) or, for a PATH ending "
                                   "in .npz, one .npz: signals, hr, pr, qrs, qt, [label], fs, lead_names, "
                                   "class_names, config (loaded whole); with --rhythms also rhythm, rhythm_names, "
                                   "beat_samples, beat_types, atrial_samples and the rhythm targets. Made once "
                                   "per config and seed, chunk by chunk with a progress bar, then read from the "
                                   "cache; a GAN build that is "
                                   "interrupted goes on where it stopped when run again.")
    p.add_argument("--n", type=int, required=True, help="number of records")
    p.add_argument("--fs", type=float, default=100.0, help="sampling rate in Hz, 100-1000 (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--classes", metavar="NAMES",
                   help="'all' or comma-separated simulated classes (NORM,MI,STTC,CD,HYP): a balanced "
                        "classification set; without it records draw from the normal ranges")
    p.add_argument("--rhythms", metavar="NAMES",
                   help="'all' or comma-separated rhythms (sinus, sinus_arrhythmia, afib, aflutter, avb2_mobitz1, "
                        "avb2_mobitz2, avb3, pac, pvc, vt, junctional, paced): a balanced set labelled by rhythm, "
                        "with beat annotations; combines with --classes (the classes then set the morphology)")
    p.add_argument("--engine", choices=("parametric", "ecgsyn", "gan"), default="parametric",
                   help="parametric (fast, default), ecgsyn (neurokit2's ECGSYN, ~1 s per record) or gan "
                        "(DeepFake ECG GAN, 10 s normal records with measured labels; failures dropped)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per record (default 10)")
    p.add_argument("--no-noise", action="store_true", help="no baseline wander, powerline or muscle noise")
    p.add_argument("--out", required=True, metavar="PATH", help="data set folder to write, or a .npz file")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=_synth)


def _synth(args):
    import numpy as np

    from ecgcore.cli.data import progress_bar
    from ecgcore.data.synthetic import make_dataset, make_gan_dataset

    out = Path(args.out)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    if args.engine == "gan" and (args.classes or args.rhythms or args.no_noise):
        raise ValueError("--engine gan makes normal ECGs as the GAN learnt them: no --classes, --rhythms or "
                         "--no-noise")
    bar = progress_bar(args.engine)
    progress = lambda share: bar(round(share * args.n), args.n)  # noqa: E731
    if args.engine == "gan":
        dataset = make_gan_dataset(n=args.n, fs=args.fs, duration=args.duration, seed=args.seed, progress=progress)
    else:
        dataset = make_dataset(n=args.n, fs=args.fs, duration=args.duration, seed=args.seed,
                               classes=args.classes, engine=args.engine, noise=not args.no_noise,
                               rhythms=args.rhythms, progress=progress)
    dataset.save(out)  # a copy: the user may edit it, the cache entry stays as built
    summary = ", ".join(f"{k} {np.nanmean(v):.3g}±{np.nanstd(v):.2g}" for k, v in dataset.targets.items()
                        if np.isfinite(v).any())
    print(f"wrote {out}: {len(dataset)} records x {len(dataset.lead_names)} leads x {dataset.signals.shape[-1]} "
          f"samples at {dataset.fs:g} Hz; {summary}")
    if "report" in dataset.config:
        report = dataset.config["report"]
        print(f"labels measured: kept {report['n_kept']} of {dataset.config['n']} records; failed per "
              "target: " + ", ".join(f"{k} {v}" for k, v in report["dropped"].items()))
    if dataset.label is not None:
        what = "rhythms" if dataset.rhythm_names else "classes"
        counts = {name: int((dataset.label == i).sum()) for i, name in enumerate(dataset.class_names)}
        print(f"{what}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
