from infra.blueprints.load import load_mesh


def test_sample_mesh_is_valid(sample_dir, today):
    result = load_mesh(sample_dir, today=today)
    assert result.errors == []
    assert result.mesh.domains == ["analytics", "finance", "logistics", "marketing", "sales"]
    assert sum(1 for _ in result.mesh.products()) == 10
    assert [(w.code, w.file.split("/")[-1], w.line) for w in result.warnings] == [
        ("W002", "logistics.yaml", 28)
    ]
