"""`computesim export DIR --netcdf FILE`: a sweep's results as one NetCDF file (xarray)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sim.api import open_sweep
from sim.config import ConfigError


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``export`` on the ``computesim`` parser."""
    export = subparsers.add_parser(
        "export",
        help="write a sweep's results as a NetCDF file (xarray: point × replicate × month)",
        description="Export the results folder of a sweep as one NetCDF file: summary outputs "
        "with dimensions (point, replicate), kept series with (point, replicate, month), the "
        "swept parameters as coordinates along point and the manifest as attributes. Needs "
        "the xarray extra (pip install 'computesim[xarray]').",
    )
    export.add_argument("dir", type=Path, help="results folder of a sweep (its --out)")
    export.add_argument(
        "--netcdf", type=Path, required=True, metavar="FILE", help="NetCDF file to write (.nc)"
    )
    export.set_defaults(handler=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """Write ``args.dir`` as NetCDF to ``args.netcdf`` (atomically: whole file or none)."""
    result = open_sweep(args.dir)
    if result.status()["done"] == 0:
        raise ConfigError(f"no finished runs in '{args.dir}' yet. Nothing was written.")
    if not args.netcdf.parent.is_dir():
        raise ConfigError(
            f"--netcdf: folder '{args.netcdf.parent}' does not exist. Nothing was written."
        )
    dataset = result.to_xarray()
    tmp = args.netcdf.with_name(f".{args.netcdf.name}.tmp")
    dataset.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, args.netcdf)
    dims = ", ".join(f"{k} {v}" for k, v in dataset.sizes.items())
    print(f"wrote {args.netcdf} ({len(dataset.data_vars)} variables; {dims})")
    return 0
