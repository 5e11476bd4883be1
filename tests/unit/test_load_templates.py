"""Load files for real APIs: JSON bodies, values drawn into paths and bodies, per request."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.load import load_load_spec
from harness.load.spec import LoadSpec, RequestSpec
from harness.load.templates import ValueSource

TARGET = "http://127.0.0.1:8000"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "load.toml"
    path.write_text(text)
    return path


def test_a_json_body_is_sent_as_json_with_its_content_type(tmp_path: Path) -> None:
    spec = load_load_spec(
        _write(
            tmp_path,
            '[[requests]]\nmethod = "POST"\npath = "/items"\njson = { name = "x", qty = 2 }\n',
        ),
        TARGET,
    )
    (req,) = spec.requests
    path, headers, body = req.render(random.Random(1))
    assert path == "/items"
    assert headers == {"Content-Type": "application/json"}
    assert json.loads(body or "") == {"name": "x", "qty": 2}


def test_values_from_a_range_fill_the_path_and_keep_their_type_in_json(tmp_path: Path) -> None:
    spec = load_load_spec(
        _write(
            tmp_path,
            '[[requests]]\nmethod = "PUT"\npath = "/items/{id}"\n'
            'json = { id = "{id}", note = "item {id}" }\n'
            "values = { id = { range = [1, 100] } }\n",
        ),
        TARGET,
    )
    (req,) = spec.requests
    assert req.name == "PUT /items/{id}"  # statistics per template, not per drawn value
    seen = set()
    rng = random.Random(7)
    for _ in range(300):
        path, _, body = req.render(rng)
        item = json.loads(body or "")
        assert path == f"/items/{item['id']}"
        assert isinstance(item["id"], int)
        assert 1 <= item["id"] <= 100
        assert item["note"] == f"item {item['id']}"
        seen.add(item["id"])
    assert len(seen) > 50  # drawn across the range, not one value


def test_values_from_a_csv_column_are_read_beside_the_load_file(tmp_path: Path) -> None:
    (tmp_path / "skus.csv").write_text("sku,price\na b,1\nc/d,2\n")
    spec = load_load_spec(
        _write(
            tmp_path,
            '[[requests]]\npath = "/sku/{sku}"\nname = "sku lookup"\n'
            'values = { sku = { csv = "skus.csv", column = "sku" } }\n',
        ),
        TARGET,
    )
    (req,) = spec.requests
    assert req.name == "sku lookup"
    paths = {req.render(random.Random(i))[0] for i in range(50)}
    assert paths == {"/sku/a%20b", "/sku/c%2Fd"}  # URL-quoted, never a second path segment


def test_a_spec_with_templates_crosses_to_locust_as_json_unchanged() -> None:
    req = RequestSpec(
        method="POST",
        path="/items/{id}",
        json_body={"id": "{id}"},
        values=(ValueSource("id", items=(3, 4)),),
        label="create",
    )
    spec = LoadSpec(TARGET, requests=(req,))
    assert LoadSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('path = "/items/{id}"\n', "placeholder {id} has no values"),
        ('path = "/x"\nvalues = { id = [1] }\n', "requests[0].values.id: no placeholder {id}"),
        ('path = "/x"\nbody = "a"\njson = { a = 1 }\n', "body and json both given"),
        ('path = "/i/{id}"\nvalues = { id = { range = [5, 1] } }\n', "low <= high"),
        ('path = "/i/{id}"\nvalues = { id = { csv = "no.csv", column = "id" } }\n', "cannot read"),
        ('path = "/x"\njsn = { a = 1 }\n', "valid fields are body, expect_status, headers, json,"),
    ],
)
def test_a_bad_template_names_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("{", r"\{").replace("[", r"\[")):
        load_load_spec(_write(tmp_path, "[[requests]]\n" + text), TARGET)


def test_a_csv_without_the_column_lists_the_columns_it_has(tmp_path: Path) -> None:
    (tmp_path / "ids.csv").write_text("item,other\n1,2\n")
    with pytest.raises(ScenarioError, match="has no column 'id'; its columns: item, other"):
        load_load_spec(
            _write(
                tmp_path,
                '[[requests]]\npath = "/i/{id}"\n'
                'values = { id = { csv = "ids.csv", column = "id" } }\n',
            ),
            TARGET,
        )


def test_braces_that_are_not_placeholders_are_sent_as_written() -> None:
    # a JSON text in a string body is not a template (it has no {name} in it)
    req = RequestSpec(method="POST", path="/pods", body='{"name": "p1", "n": {"a": 1}}')
    assert req.placeholders() == set()
    assert req.render(random.Random(0))[2] == '{"name": "p1", "n": {"a": 1}}'
    assert LoadSpec(TARGET, requests=(req,)).problems() == []
    templated = RequestSpec(
        method="POST",
        path="/pods",
        body='{"name": "{name}"}',
        values=(ValueSource("name", items=("p7",)),),
    )
    assert templated.render(random.Random(0))[2] == '{"name": "p7"}'
