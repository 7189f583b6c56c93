"""A stand-in for `google.colab`, for executing template.ipynb outside Colab (tests only).

`nox -s notebook` puts `notebook_tests/colab_shim` on the kernel's PYTHONPATH; `google` stays a
namespace package, so `google.protobuf` and friends from site-packages still import. Behaviour:

* `drive.mount(mountpoint)` creates `<mountpoint>/MyDrive` (a local folder plays Drive);
* `files.upload()` returns the files of the next numbered folder under `$FAKE_COLAB_UPLOADS`
  (`1/`, `2/`, ... consumed in order, as if the user picked them in the browser);
* `files.download(path)` copies the file into `$FAKE_COLAB_DOWNLOADS`.

Colab's form fields need no module: `x = 1  # @param` is a plain assignment outside Colab.
"""
