"""`data ptbxl --dest DIR`: download PTB-XL from PhysioNet; `data info PATH`: what a PTB-XL folder holds."""

from __future__ import annotations

import json
import warnings

from ecgcore.labels import PTBXL_RATES
from ecgcore.leads import LEAD_SETS


def register(sub):
    p = sub.add_parser("data", help="download and inspect real ECGs (PTB-XL)",
                       description="Get PTB-XL from PhysioNet and see what a PTB-XL folder holds.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    d = actions.add_parser("ptbxl", help="download PTB-XL 1.0.3 (one sampling rate; resumable; checked)",
                           description="Download PTB-XL 1.0.3 with wfdb: the two CSVs and records100/ (or "
                                       "records500/). Run it again to resume; every record is read back. "
                                       "Progress and outcome are kept in DIR/.ecgcore-download.json (what "
                                       "the dashboard shows); a second download into DIR is refused.")
    d.add_argument("--dest", required=True, metavar="DIR", help="folder to download into")
    d.add_argument("--fs", type=int, choices=PTBXL_RATES, default=100, help="sampling rate (default 100 Hz)")
    d.add_argument("--base-url", metavar="URL",
                   help="index to download from (default $ECGCORE_PTBXL_URL, else PhysioNet's "
                        "https://physionet.org/files/)")
    d.set_defaults(func=_download)
    i = actions.add_parser("info", help="records, class counts and splits per label mode; bad records",
                           description="Load a PTB-XL folder (cached) and report, per label mode (multi-label, "
                                       "single-label), the records kept, class counts, split sizes, classes "
                                       "with no records, empty splits and skipped bad records.")
    i.add_argument("path", metavar="PATH", help="a PTB-XL folder")
    i.add_argument("--fs", type=int, choices=PTBXL_RATES, default=100, help="sampling rate (default 100 Hz)")
    i.add_argument("--leads", choices=tuple(LEAD_SETS), default="all", help="12 leads or the paper's 8")
    i.add_argument("--val-fold", type=int, help="validation fold (default auto: 9 when the folder has fold 10, "
                   "else 8)")
    i.add_argument("--test-fold", type=int, help="test fold (default auto: 10 when the folder has it, else 9)")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    i.set_defaults(func=_info)


def progress_bar(description):
    """A progress(done, total) callback drawing a tqdm bar, opened on the first call (a cache hit draws none)."""
    from tqdm import tqdm

    bar = None

    def progress(done, total):
        nonlocal bar
        bar = bar or tqdm(desc=description, total=total, unit="record")
        bar.n = done
        bar.refresh()
        if done == total:
            bar.close()

    return progress


def _download(args):
    from ecgcore.data.download import tracked_download

    report = tracked_download(args.dest, fs=args.fs, progress=progress_bar("download"), base_url=args.base_url)
    print(f"PTB-XL at {report['fs']} Hz in {report['dest']}: {report['records']} records listed, "
          f"{report['fetched']} fetched, {report['already_complete']} already complete")
    if report["problems"]:
        print(f"{len(report['problems'])} record(s) failed the check (run again to retry them):")
        for p in report["problems"]:
            print(f"  {p['record']}: {p['reason']}")
        return 1
    print(f"every record reads back; next: python -m ecgcore data info {report['dest']}"
          + (f" --fs {args.fs}" if args.fs != 100 else ""))
    return 0


def _info(args):
    from ecgcore.data.ptbxl import load_ptbxl, summary

    with warnings.catch_warnings():  # the summary lists the skipped records itself
        warnings.simplefilter("ignore", UserWarning)
        dataset = load_ptbxl(args.path, fs=args.fs, leads=args.leads, val_fold=args.val_fold,
                             test_fold=args.test_fold, progress=progress_bar("read"))
    print(json.dumps(dataset.config["report"], indent=2) if args.json else summary(dataset))
    return 0
