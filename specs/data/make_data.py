"""Generate the small CSV files the bundled example specs run on (fixed seed, no network).

Why generated rather than downloaded: the examples must run offline and reproducibly, and a script
documents exactly how the data was made (what structure group and time-series CV are meant to respect).
Run it again and the files come out byte-identical:

    python specs/data/make_data.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240611
HERE = Path(__file__).resolve().parent


def make_patients(rng: np.random.Generator, n_patients: int = 60) -> pd.DataFrame:
    """Repeated visits of the same patients, with a per-patient effect on the outcome.

    Rows of one patient are correlated (shared age, sex and a hidden frailty), so a plain K-fold
    leaks patients between train and validation folds and looks better than it is: the reason
    ``specs/groups.yaml`` uses group CV on ``patient_id``.
    """
    rows = []
    for pid in range(1, n_patients + 1):
        age = int(rng.integers(30, 85))
        sex = int(rng.integers(0, 2))
        frailty = rng.normal(0.0, 1.0)  # hidden, patient-level
        base_bmi = rng.normal(27.0, 4.0)
        for visit in range(1, int(rng.integers(3, 9)) + 1):
            bmi = base_bmi + rng.normal(0.0, 0.8)
            systolic = 115 + 0.45 * (age - 50) + 6.0 * frailty + rng.normal(0.0, 9.0)
            glucose = 95 + 1.2 * (bmi - 27) + 8.0 * frailty + rng.normal(0.0, 12.0)
            chol = 190 + 0.6 * (age - 50) + rng.normal(0.0, 25.0)
            logit = (-0.4 + 0.035 * (age - 55) + 0.9 * frailty + 0.02 * (systolic - 125)
                     + 0.015 * (glucose - 100) + 0.15 * visit - 0.3 * sex)
            readmitted = int(rng.random() < 1.0 / (1.0 + np.exp(-logit)))
            rows.append({
                "patient_id": f"P{pid:03d}", "visit": visit, "age": age, "sex": sex,
                "bmi": round(bmi, 1), "systolic_bp": round(systolic, 1), "glucose": round(glucose, 1),
                "cholesterol": round(chol, 1), "readmitted": readmitted,
            })
    return pd.DataFrame(rows)


def make_sales(rng: np.random.Generator, days: int = 540) -> pd.DataFrame:
    """Daily sales with trend, weekly and yearly seasonality, promotions and lag features.

    The lags (sales 7 and 14 days earlier) make the rows depend on the past: shuffling them into
    K-fold would train on the future, which is why ``specs/timeseries.yaml`` uses time-series CV with a gap.
    """
    dates = pd.date_range("2023-01-01", periods=days + 14, freq="D")
    t = np.arange(len(dates))
    dow = dates.day_of_week.to_numpy()
    promo = (rng.random(len(dates)) < 0.15).astype(int)
    temperature = 12 + 10 * np.sin(2 * np.pi * (t - 100) / 365.25) + rng.normal(0, 2.5, len(dates))
    sales = (200 + 0.15 * t + 25 * np.isin(dow, [4, 5]) - 15 * (dow == 6)
             + 30 * np.sin(2 * np.pi * t / 365.25) + 45 * promo + 1.5 * temperature
             + rng.normal(0, 12, len(dates)))
    frame = pd.DataFrame({
        "date": dates.strftime("%Y-%m-%d"), "day_of_week": dow, "month": dates.month,
        "promo": promo, "temperature": np.round(temperature, 1),
        "sales_lag_7": np.round(np.roll(sales, 7), 1), "sales_lag_14": np.round(np.roll(sales, 14), 1),
        "sales": np.round(sales, 1),
    })
    return frame.iloc[14:].reset_index(drop=True)  # drop the rows whose lags wrapped around


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the CSV files to")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    make_patients(rng).to_csv(args.out / "patients.csv", index=False, lineterminator="\n")
    make_sales(rng).to_csv(args.out / "sales.csv", index=False, lineterminator="\n")
    print(f"wrote {args.out / 'patients.csv'} and {args.out / 'sales.csv'}")


if __name__ == "__main__":
    main()
