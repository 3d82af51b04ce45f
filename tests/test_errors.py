"""The exit code of each error class: what the user fixes on the command line exits 2, other failures 1."""

import pytest

from ospack import errors


@pytest.mark.parametrize(
    "name, code",
    [
        ("UsageError", 2),
        ("LayerError", 2),
        ("ZoomError", 2),
        ("ApiUrlError", 2),
        ("LargeJobError", 2),
        ("CrsError", 2),
        ("PremiumNotAllowedError", 2),
        ("OutputFormatError", 2),
        ("EmulatorOptionError", 2),
        ("AreaError", 1),
        ("AreaOutsideGridError", 1),
        ("GridError", 1),
        ("DownloadError", 1),
        ("AuthError", 1),
        ("PremiumError", 1),
        ("WriterError", 1),
        ("IncompatibleOutputError", 1),
        ("InvalidTileError", 1),
        ("EmulatorError", 1),
    ],
)
def test_exit_codes_follow_the_tree(name, code):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.OspackError) and cls.exit_code == code
    assert issubclass(cls, errors.UsageError) == (code == 2)


def test_usage_subclasses_stay_catchable_as_their_stage():
    assert issubclass(errors.CrsError, errors.AreaError)
    assert issubclass(errors.PremiumNotAllowedError, errors.PremiumError)
    assert issubclass(errors.OutputFormatError, errors.WriterError)
    assert issubclass(errors.EmulatorOptionError, errors.EmulatorError)


def test_every_class_is_in_the_documented_tree():
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.OspackError)]
    for cls in classes:
        assert cls.__name__ in errors.__doc__, cls.__name__
