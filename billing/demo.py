"""Demo billing data: bank accounts and balance sheets for the players, job openings, plans and
a subscription per tenant (acme's expires in 10 days, so the cron's warnings show up)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import BalanceSheet, BankAccount, JobOpening, Liability, Plan, Subscription

OPENINGS = [
    # title, employer, salary, required skills, min years, headcount
    ("Courier", "Speedy Parcels", "1200.00", ["driving"], 0, 5),
    ("Line cook", "Harbour Diner", "1800.00", ["cooking"], 1, 2),
    ("Bank teller", "First Game Bank", "2400.00", ["accounting", "customer service"], 2, 1),
]


def seed(users: dict) -> list[str]:
    for name in ("alice", "bob", "carol"):
        user = users[name]
        BankAccount.objects.get_or_create(user=user, defaults={"balance": Decimal("500.00")})
        sheet, _ = BalanceSheet.objects.get_or_create(user=user)
        Liability.objects.get_or_create(
            balance_sheet=sheet, name="Car loan", defaults={"outstanding": Decimal("300.00")}
        )
        Liability.objects.get_or_create(
            balance_sheet=sheet, name="Credit card", defaults={"outstanding": Decimal("120.50")}
        )
    for title, employer, salary, skills, years, headcount in OPENINGS:
        JobOpening.objects.get_or_create(
            title=title,
            employer=employer,
            defaults={
                "salary": Decimal(salary),
                "required_skills": skills,
                "min_experience_years": years,
                "headcount": headcount,
            },
        )
    basic, _ = Plan.objects.get_or_create(code="basic", defaults={"name": "Basic", "price": Decimal("29.00")})
    Plan.objects.get_or_create(code="pro", defaults={"name": "Pro", "price": Decimal("99.00")})
    today = timezone.localdate()
    for slug, days in (("acme", 10), ("globex", 40)):
        tenant = users["alice" if slug == "acme" else "carol"].profile.tenant
        Subscription.objects.get_or_create(
            tenant=tenant, defaults={"plan": basic, "expires_on": today + timedelta(days=days)}
        )
    return ["  billing: 500.00 USD and two liabilities for alice, bob, carol; 3 job openings; acme expires in 10 days"]
