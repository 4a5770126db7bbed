"""Simulated carriers offer numbers that could exist: phonenumbers (libphonenumber's
metadata) judges them, as it would judge a real carrier's."""
import phonenumbers
import pytest

from kzcarrier import demo
from kzcarrier.numbers import is_valid_for_country
from kzcarrier.search import Search
from kzcarrier.simulators import available_numbers


def valid(num: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(num))


@pytest.mark.parametrize("prefix", ["+1646", "+1415", "+1973555", "+12125", "1800",
                                    "+4420", "+3314"])
def test_generated_numbers_are_valid_for_their_country(prefix):
    nums = available_numbers(prefix, 25, {})
    assert len(nums) == 25 and nums == sorted(set(nums))
    assert all(valid(n) for n in nums), nums
    if prefix.lstrip("+").startswith("1"):
        assert all(n[5] not in "01" for n in nums)        # NANP exchanges start 2-9


def test_sold_numbers_are_skipped_and_fictional_area_codes_keep_nanp_structure():
    first = available_numbers("+1646", 2, {})
    assert available_numbers("+1646", 2, {first[0]: {}}) == [first[1],
                                                              available_numbers("+1646", 3, {})[2]]
    fictional = available_numbers("+1555", 3, {})
    assert fictional and all(is_valid_for_country(n) and n[5] not in "01" for n in fictional)
    assert not is_valid_for_country("+16460000000") and not is_valid_for_country("+1646911000")
    assert not is_valid_for_country("+1646211000") and not is_valid_for_country("nonsense")


def test_every_simulator_offers_valid_numbers_in_a_search(app):
    """What `kzcarrier up`'s demo shows: a search at every simulated carrier."""
    sims = demo.start_simulators(app)
    try:
        for prefix in ("646", "973", "212"):
            found = Search(app.couch, app.config).find(prefix, quantity=20)
            offered = {e["number"] for e in found.numbers}
            assert offered, prefix
            assert all(valid(n) for n in offered), sorted(n for n in offered if not valid(n))
            carriers = {o["carrier"] for e in found.numbers for o in e["offers"]}
            assert len(carriers) >= 4, carriers
    finally:
        for sim in sims:
            sim.stop()
