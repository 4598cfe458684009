"""cnnlab.train: the fit loop, evaluation, early stopping, saved parameters."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from cnnlab.layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from cnnlab.losses import CrossEntropyLoss, MSELoss, cross_entropy
from cnnlab.module import Module, Parameter, Sequential
from cnnlab.norm import BatchNorm1d, BatchNorm2d
from cnnlab.optim import SGD, Adam
from cnnlab.train import (
    Callback,
    DivergenceError,
    EarlyStopping,
    History,
    LossExplosionWarning,
    confusion_matrix,
    evaluate,
    fit,
    load_parameters,
    predict,
    save_parameters,
)

F64 = np.float64


def blobs(n: int, seed: int, dtype=F64):
    """Two well separated Gaussian clouds in 2-D, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)) * 0.5 + np.where(y[:, None] == 1, 2.0, -2.0)
    return x.astype(dtype), y.astype(np.int64)


def mlp(seed: int, dropout: float = 0.0) -> Sequential:
    r = np.random.default_rng(seed)
    return Sequential(Linear(2, 8, rng=r, dtype=F64), BatchNorm1d(8, dtype=F64), ReLU(),
                      Dropout(dropout, rng=r), Linear(8, 2, rng=r, dtype=F64))


def small_cnn(seed: int) -> Sequential:
    r = np.random.default_rng(seed)
    return Sequential(Conv2d(1, 3, 3, padding=1, rng=r, dtype=F64), BatchNorm2d(3, dtype=F64),
                      ReLU(), MaxPool2d(2), Flatten(), Dropout(0.3, rng=r),
                      Linear(3 * 3 * 3, 3, rng=r, dtype=F64))


def images(n: int, seed: int):
    """6×6 images whose class (0, 1, 2) is the row band holding a bright bar."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = 0.1 * rng.standard_normal((n, 1, 6, 6))
    for i, c in enumerate(y):
        x[i, 0, 2 * c:2 * c + 2] += 1.0
    return x, y.astype(np.int64)


def run(seed: int = 0, rng=0, epochs: int = 3, **kw):
    model = small_cnn(seed)
    hist = fit(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.01), images(40, 1),
               epochs=epochs, batch_size=8, rng=rng, val_data=images(20, 2), **kw)
    return model, hist


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- fit
def test_fit_learns_a_separable_problem():
    model = mlp(0)
    train, val = blobs(200, 1), blobs(100, 2)
    loss = CrossEntropyLoss()
    before = evaluate(model, loss, train)
    hist = fit(model, loss, SGD(model.parameters(), lr=0.1, momentum=0.9), train,
               epochs=10, batch_size=20, rng=0, val_data=val)
    assert isinstance(hist, History)
    assert hist.epoch == list(range(1, 11)) and hist.stop_reason == "epochs"
    assert len(hist.train_loss) == len(hist.val_loss) == len(hist.val_accuracy) == 10
    assert hist.train_loss[-1] < 0.1 * before["loss"]
    assert hist.val_loss[-1] < hist.val_loss[0]
    assert hist.val_accuracy[-1] == 1.0 and evaluate(model, loss, val)["accuracy"] == 1.0
    assert hist.best_epoch == 1 + int(np.argmin(hist.val_loss))
    assert hist.restored_epoch is None


def test_fit_is_deterministic_bit_for_bit():
    m1, h1 = run()
    m2, h2 = run()
    assert h1 == h2
    assert states_equal(m1.state_dict(), m2.state_dict())
    m3, h3 = run(rng=np.random.default_rng(1))   # another order of the samples
    assert h3.train_loss != h1.train_loss
    assert not states_equal(m1.state_dict(), m3.state_dict())


def test_a_generator_and_its_seed_give_the_same_run():
    _, h1 = run(rng=5)
    _, h2 = run(rng=np.random.default_rng(5))
    assert h1 == h2


def test_without_shuffle_the_seed_does_not_matter():
    m1, h1 = run(rng=0, shuffle=False)
    m2, h2 = run(rng=1, shuffle=False)
    assert h1 == h2 and states_equal(m1.state_dict(), m2.state_dict())


def test_fit_is_the_documented_loop():
    """The loop in fit's Notes, written out, gives the same weights bit for bit."""
    (x, y), loss = images(40, 1), CrossEntropyLoss()
    model = small_cnn(0)
    opt = Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(2):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 8):
            b = order[start:start + 8]
            loss.forward(model.forward(x[b]), y[b])
            opt.zero_grad()
            model.backward(loss.backward())
            opt.step()
    fitted = small_cnn(0)
    fit(fitted, CrossEntropyLoss(), Adam(fitted.parameters(), lr=0.01), (x, y), epochs=2,
        batch_size=8, rng=0)
    assert states_equal(model.state_dict(), fitted.state_dict())


def test_train_loss_is_the_sample_weighted_mean_of_the_batch_losses():
    seen = []

    class Record(Callback):
        def on_batch_end(self, model, history, loss):
            seen.append(loss)

    x, y = images(10, 3)   # batches of 4, 4 and 2
    model = small_cnn(0)
    hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, y), epochs=1,
               batch_size=4, rng=0, callbacks=[Record()])
    assert len(seen) == 3
    assert hist.train_loss[0] == pytest.approx((4 * seen[0] + 4 * seen[1] + 2 * seen[2]) / 10,
                                               rel=1e-12)


def test_fit_switches_between_training_and_evaluation_mode():
    modes = []

    class Spy(Module):
        def forward(self, x):
            modes.append(self.training)
            return x.copy()

        def backward(self, dout):
            return dout.copy()

        def output_shape(self, input_shape):
            return tuple(input_shape)

    model = Sequential(Linear(2, 2, rng=0, dtype=F64), Spy())
    model.eval()
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), blobs(6, 0), epochs=2,
        batch_size=3, rng=0, val_data=blobs(4, 1))
    # per epoch: two training batches, then one evaluation batch of the validation set
    assert modes == [True, True, False, True, True, False]
    assert model.training is False   # fit returns the model in evaluation mode


def test_dropout_and_batch_norm_behave_per_mode():
    model = mlp(0, dropout=0.5)
    x, y = blobs(64, 0)
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05), (x, y), epochs=2,
        batch_size=16, rng=0)
    bn = model[1]
    assert not np.allclose(bn.running_mean, 0)          # updated in training mode
    stats = (bn.running_mean.copy(), bn.running_var.copy())
    model.train()
    out1, out2 = predict(model, x), predict(model, x)
    np.testing.assert_array_equal(out1, out2)            # no dropout in evaluation
    np.testing.assert_array_equal(bn.running_mean, stats[0])   # evaluation changes nothing
    np.testing.assert_array_equal(bn.running_var, stats[1])
    assert model.training is True                        # predict restored the mode
    assert not np.array_equal(model.forward(x), model.forward(x))   # dropout in training


# -------------------------------------------------------------- evaluate, predict
def hand_model() -> Sequential:
    lin = Linear(2, 3, rng=0, dtype=F64)
    lin.weight.data[...] = [[1, 0], [0, 1], [-1, -1]]
    lin.bias.data[...] = [0, 0, 0.5]
    return Sequential(lin)


X_HAND = np.array([[2.0, 0.0], [0.0, 3.0], [-1.0, -1.0], [1.0, 1.5]])
Y_HAND = np.array([0, 1, 2, 0])   # predictions: 0, 1, 2, 1 -> 3 of 4 right


def test_predict_returns_the_logits_of_every_sample_in_order():
    model = hand_model()
    out = predict(model, X_HAND, batch_size=3)
    assert out.shape == (4, 3)
    np.testing.assert_array_equal(out, X_HAND @ model[0].weight.data.T + model[0].bias.data)
    np.testing.assert_array_equal(out.argmax(axis=1), [0, 1, 2, 1])


def test_evaluate_on_a_hand_made_case():
    model = hand_model()
    logits = X_HAND @ model[0].weight.data.T + model[0].bias.data
    for batch_size in (1, 3, 256):
        result = evaluate(model, CrossEntropyLoss(), (X_HAND, Y_HAND), batch_size=batch_size)
        assert set(result) == {"loss", "accuracy"}
        assert result["accuracy"] == 0.75
        assert result["loss"] == pytest.approx(cross_entropy(logits, Y_HAND), rel=1e-12)
    summed = evaluate(model, CrossEntropyLoss(reduction="sum"), (X_HAND, Y_HAND), batch_size=3)
    assert summed["loss"] == pytest.approx(cross_entropy(logits, Y_HAND, "sum"), rel=1e-12)


def test_evaluate_with_a_regression_loss_has_no_accuracy():
    model = hand_model()
    target = np.zeros((4, 3))
    result = evaluate(model, MSELoss(), (X_HAND, target), batch_size=3)
    logits = predict(model, X_HAND)
    assert result["loss"] == pytest.approx(np.mean(logits ** 2), rel=1e-12)
    assert np.isnan(result["accuracy"])


def test_confusion_matrix_counts():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2])
    cm = confusion_matrix(y_true, y_pred, 4)
    expected = np.array([[1, 1, 0, 0], [0, 2, 1, 0], [1, 0, 3, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(cm, expected)
    assert cm.dtype == np.int64
    assert cm.sum() == 9 and np.trace(cm) == 6
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=4))
    empty = np.array([], dtype=np.int64)
    np.testing.assert_array_equal(confusion_matrix(empty, empty, 2), np.zeros((2, 2)))


@pytest.mark.parametrize("args, error, match", [
    ((np.array([0, 1]), np.array([0, 1]), 0), ValueError, "num_classes"),
    ((np.array([0, 1]), np.array([0, 1]), 2.0), TypeError, "num_classes"),
    ((np.array([0.0, 1.0]), np.array([0, 1]), 2), TypeError, "y_true"),
    (([0, 1], np.array([0, 1]), 2), TypeError, "y_true"),
    ((np.array([0, 1]), np.array([[0, 1]]), 2), TypeError, "y_pred"),
    ((np.array([0, 2]), np.array([0, 1]), 2), ValueError, "y_true"),
    ((np.array([0, 1]), np.array([-1, 1]), 2), ValueError, "y_pred"),
    ((np.array([0, 1]), np.array([0, 1, 1]), 2), ValueError, "y_pred"),
])
def test_confusion_matrix_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        confusion_matrix(*args)


# --------------------------------------------------------------- early stopping
def test_early_stopping_follows_the_monitored_values():
    """Best at epoch 3; epochs 4-6 do not beat it by more than min_delta: stop after 6."""
    model = Sequential(Linear(1, 1, rng=0, dtype=F64))
    stopper = EarlyStopping("val_loss", patience=3, min_delta=0.05)
    hist = History()
    stopper.on_train_begin(model, hist, True)
    values = [1.0, 0.8, 0.5, 0.46, 0.7, 0.5, 0.1]
    stopped = []
    for epoch, v in enumerate(values, start=1):
        model[0].weight.data[...] = epoch       # weights that say which epoch they are from
        hist.epoch.append(epoch)
        hist.val_loss.append(v)
        if stopper.on_epoch_end(model, hist):
            stopped.append(epoch)
            break
    assert stopped == [6]
    stopper.on_train_end(model, hist)
    assert hist.best_epoch == hist.restored_epoch == 3
    assert model[0].weight.data[0, 0] == 3


def test_early_stopping_maximises_accuracies():
    model = Sequential(Linear(1, 1, rng=0, dtype=F64))
    stopper = EarlyStopping("train_accuracy", patience=2, restore_best=False)
    hist = History()
    stopper.on_train_begin(model, hist, False)
    results = []
    for epoch, v in enumerate([0.5, 0.9, 0.8, 0.9], start=1):
        hist.epoch.append(epoch)
        hist.train_accuracy.append(v)
        results.append(stopper.on_epoch_end(model, hist))
    assert results == [False, False, False, True]
    stopper.on_train_end(model, hist)
    assert hist.best_epoch == 2 and hist.restored_epoch is None


def test_early_stopping_never_counts_nan_as_an_improvement():
    model = Sequential(Linear(1, 1, rng=0, dtype=F64))
    stopper, hist = EarlyStopping("val_loss", patience=2), History()
    stopper.on_train_begin(model, hist, True)
    results = []
    for epoch, v in enumerate([np.nan, 0.5, np.nan, np.nan], start=1):
        hist.epoch.append(epoch)
        hist.val_loss.append(v)
        results.append(stopper.on_epoch_end(model, hist))
    assert results == [False, False, False, True]
    stopper.on_train_end(model, hist)
    assert hist.best_epoch == hist.restored_epoch == 2


def diverging_run(patience: int, epochs: int = 20):
    """Validation labels are the training labels flipped: fitting makes val loss worse."""
    x, y = blobs(60, 3)
    model = mlp(0)
    hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05), (x, y),
               epochs=epochs, batch_size=10, rng=0, val_data=(x, 1 - y),
               callbacks=[EarlyStopping(patience=patience)])
    return model, hist


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    model, hist = diverging_run(patience=4)
    assert np.all(np.diff(hist.val_loss) > 0)          # worse after every epoch
    assert hist.stop_reason == "early_stopping"
    assert hist.epoch == [1, 2, 3, 4, 5]                # best epoch 1 + patience 4
    assert hist.best_epoch == hist.restored_epoch == 1
    # the weights (and batch-norm buffers) are those after epoch 1 of the same run
    x, y = blobs(60, 3)
    one = mlp(0)
    fit(one, CrossEntropyLoss(), SGD(one.parameters(), lr=0.05), (x, y), epochs=1,
        batch_size=10, rng=0)
    assert states_equal(model.state_dict(), one.state_dict())
    assert evaluate(model, CrossEntropyLoss(), (x, 1 - y))["loss"] == pytest.approx(
        hist.val_loss[0], rel=1e-12)


def test_early_stopping_is_reusable_and_needs_validation_data():
    stopper = EarlyStopping(patience=2)
    for _ in range(2):   # state is reset by on_train_begin
        model = mlp(0)
        x, y = blobs(30, 3)
        hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05), (x, y),
                   epochs=10, batch_size=10, rng=0, val_data=(x, 1 - y), callbacks=[stopper])
        assert hist.epoch == [1, 2, 3]
    with pytest.raises(ValueError, match="val_data"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05), (x, y), epochs=2,
            batch_size=10, rng=0, callbacks=[stopper])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"monitor": "loss"}, ValueError, "monitor"),
    ({"patience": 0}, ValueError, "patience"),
    ({"patience": 2.5}, TypeError, "patience"),
    ({"min_delta": -0.1}, ValueError, "min_delta"),
    ({"restore_best": 1}, TypeError, "restore_best"),
])
def test_early_stopping_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


# ------------------------------------------------------------------- progress bar
def test_fit_prints_nothing_without_progress(capsys):
    run(epochs=1)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_runs_on_stderr(capsys):
    pytest.importorskip("tqdm")
    _, hist = run(epochs=2, progress=True)
    assert hist.epoch == [1, 2]
    captured = capsys.readouterr()
    assert captured.out == "" and "10/10" in captured.err   # 2 epochs of 5 batches


def test_progress_without_tqdm_is_a_clear_import_error(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="tqdm"):
        run(epochs=1, progress=True)
    run(epochs=1)   # progress=False never imports it


# ------------------------------------------------------------------ save and load
def trained_cnn(seed: int = 0) -> Sequential:
    model, _ = run(seed=seed, epochs=2)
    return model


def test_save_and_load_round_trip(tmp_path):
    src = trained_cnn()
    assert not np.allclose(src[1].running_mean, 0)      # batch-norm buffers moved
    path = save_parameters(src, tmp_path / "cnn")
    assert path == tmp_path / "cnn.npz" and path.exists()
    dst = small_cnn(seed=7)
    load_parameters(dst, path)
    assert states_equal(src.state_dict(), dst.state_dict())
    x, _ = images(5, 9)
    np.testing.assert_array_equal(predict(src, x), predict(dst, x))
    assert save_parameters(src, str(tmp_path / "again.npz")) == tmp_path / "again.npz"


def test_saved_archive_holds_plain_arrays_only(tmp_path):
    model = trained_cnn()
    path = save_parameters(model, tmp_path / "cnn.npz")
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        for name in names:
            with archive.open(name) as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                _, _, dtype = read_header(f)
                assert not dtype.hasobject, name
    assert names == sorted(f"{k}.npy" for k in model.state_dict())
    with np.load(path, allow_pickle=False) as arrays:     # readable without pickle
        assert set(arrays.files) == set(model.state_dict())


def test_loading_into_another_architecture_fails_clearly(tmp_path):
    path = save_parameters(trained_cnn(), tmp_path / "cnn.npz")
    r = np.random.default_rng(0)
    wider = Sequential(Conv2d(1, 4, 3, padding=1, rng=r, dtype=F64), BatchNorm2d(4, dtype=F64),
                       ReLU(), MaxPool2d(2), Flatten(), Dropout(0.3, rng=r),
                       Linear(4 * 3 * 3, 3, rng=r, dtype=F64))
    before = wider.state_dict()
    with pytest.raises(ValueError, match=r"different architecture.*mismatched: 0\.weight"):
        load_parameters(wider, path)
    assert states_equal(before, wider.state_dict())      # nothing was changed
    with pytest.raises(ValueError, match=r"different architecture; missing: 4\.bias, 4\.weight; "
                                         r"unexpected: 6\.bias, 6\.weight; mismatched: 0\.weight"):
        load_parameters(mlp(0), path)
    float32 = Sequential(Linear(2, 8, rng=0), BatchNorm1d(8), ReLU(), Dropout(0.0),
                         Linear(8, 2, rng=0))
    with pytest.raises(ValueError, match=r"mismatched: 0\.weight float64\(8, 2\) \(model: "
                                         r"float32\(8, 2\)\)"):
        load_parameters(float32, save_parameters(mlp(0), tmp_path / "mlp.npz"))


def test_load_parameters_refuses_what_is_not_a_parameter_archive(tmp_path):
    model = mlp(0)
    with pytest.raises(FileNotFoundError):
        load_parameters(model, tmp_path / "missing.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="path: .*single array"):
        load_parameters(model, tmp_path / "single.npy")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="path: cannot read"):
        load_parameters(model, tmp_path / "text.npz")
    state = model.state_dict()
    state["0.weight"] = np.array([object()] * 16, dtype=object).reshape(8, 2)
    np.savez(tmp_path / "pickled.npz", **state)       # an object array needs pickle
    with pytest.raises(ValueError, match="path: cannot read the arrays.*pickle"):
        load_parameters(model, tmp_path / "pickled.npz")
    with pytest.raises(TypeError, match="path"):
        load_parameters(model, 3)
    with pytest.raises(TypeError, match="model"):
        save_parameters("model", tmp_path / "x.npz")


# ------------------------------------------------------------------- bad arguments
def good_args():
    model = mlp(0)
    return dict(model=model, loss=CrossEntropyLoss(), optimizer=SGD(model.parameters(), lr=0.1),
                train_data=blobs(10, 0), epochs=1, batch_size=5, rng=0)


@pytest.mark.parametrize("change, error, match", [
    ({"model": "net"}, TypeError, "^model"),
    ({"loss": lambda a, b: 0.0}, TypeError, "^loss"),
    ({"optimizer": object()}, TypeError, "^optimizer"),
    ({"optimizer": SGD(mlp(1).parameters(), lr=0.1)}, ValueError, "^optimizer"),
    ({"train_data": np.zeros((10, 2))}, TypeError, "^train_data"),
    ({"train_data": ([[0.0, 1.0]], np.array([0]))}, TypeError, "^train_data"),
    ({"train_data": (np.zeros((10, 2)), np.zeros(9, np.int64))}, ValueError, "^train_data"),
    ({"train_data": (np.zeros((0, 2)), np.zeros(0, np.int64))}, ValueError, "^train_data"),
    ({"val_data": (np.zeros((4, 2)), np.zeros(3, np.int64))}, ValueError, "^val_data"),
    ({"epochs": 0}, ValueError, "^epochs"),
    ({"epochs": 2.0}, TypeError, "^epochs"),
    ({"batch_size": 0}, ValueError, "^batch_size"),
    ({"batch_size": None}, TypeError, "^batch_size"),
    ({"rng": "seed"}, TypeError, "^rng"),
    ({"rng": None}, TypeError, "^rng"),
    ({"callbacks": EarlyStopping()}, TypeError, "^callbacks"),
    ({"callbacks": [lambda m, h: None]}, TypeError, r"^callbacks\[0\]"),
    ({"progress": "yes"}, TypeError, "^progress"),
    ({"shuffle": 1}, TypeError, "^shuffle"),
])
def test_fit_rejects_bad_arguments(change, error, match):
    args = good_args()
    args.update(change)
    before = args["model"].state_dict() if isinstance(args["model"], Module) else None
    with pytest.raises(error, match=match):
        fit(**args)
    if before is not None:   # a refused call trains nothing
        assert states_equal(before, args["model"].state_dict())


def test_fit_needs_keyword_arguments():
    args = good_args()
    with pytest.raises(TypeError):
        fit(args["model"], args["loss"], args["optimizer"], args["train_data"], 1, 5, 0)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: evaluate("m", CrossEntropyLoss(), (X_HAND, Y_HAND)), TypeError, "^model"),
    (lambda m: evaluate(m, None, (X_HAND, Y_HAND)), TypeError, "^loss"),
    (lambda m: evaluate(m, CrossEntropyLoss(), X_HAND), TypeError, "^data"),
    (lambda m: evaluate(m, CrossEntropyLoss(), (X_HAND, Y_HAND), batch_size=0), ValueError,
     "^batch_size"),
    (lambda m: predict(m, X_HAND.tolist()), ValueError, "^x"),
    (lambda m: predict(m, X_HAND[:0]), ValueError, "^x"),
    (lambda m: predict(m, X_HAND, batch_size=1.5), TypeError, "^batch_size"),
    (lambda m: predict(None, X_HAND), TypeError, "^model"),
])
def test_evaluate_and_predict_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call(hand_model())


# ----------------------------------------------------------- issue 15: nothing silent
@pytest.mark.filterwarnings("ignore::cnnlab.train.LossExplosionWarning")
def test_a_diverging_run_stops_with_its_history():
    """Item 1: a huge learning rate used to end in "logits must be finite" from the loss."""
    model = mlp(0)
    with pytest.raises(DivergenceError, match=r"^training diverged in epoch \d+, batch \d+ of 3: "
                                              r".*lower the learning rate \(lr=1e\+30\)") as info:
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=1e30), blobs(60, 0),
            epochs=5, batch_size=20, rng=0)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert err.history.epoch == list(range(1, err.epoch)) and err.batch >= 1
    assert len(err.history.train_loss) == err.epoch - 1


def test_a_non_finite_gradient_stops_the_run_before_the_step():
    class NanGrad(Module):  # finite outputs, NaN gradient
        def forward(self, x):
            return self._save(None, x * 1.0)

        def backward(self, dout):
            self._load(dout)
            return dout * np.nan

        def output_shape(self, input_shape):
            return tuple(input_shape)

    model = Sequential(NanGrad(), Linear(2, 2, rng=0, dtype=F64), NanGrad(),
                       Linear(2, 2, rng=1, dtype=F64))
    before = model.state_dict()
    with pytest.raises(DivergenceError, match=r"batch 1 of 1: params\[0\] \(2, 2\): the "
                                              r"gradient is not finite .*step\(\) changed nothing"):
        fit(model, CrossEntropyLoss(), Adam(model.parameters()), blobs(4, 0), epochs=1,
            batch_size=4, rng=0)
    assert states_equal(before, model.state_dict())


def test_an_exploding_loss_warns_once_and_training_goes_on():
    model = mlp(0)
    with pytest.warns(LossExplosionWarning, match=r"^the loss exploded in epoch 1, batch \d+: "
                                                  r".*lr=\d+\) is probably too high") as record:
        hist = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=300.0),
                   blobs(200, 0), epochs=3, batch_size=10, rng=0)
    assert len([w for w in record if w.category is LossExplosionWarning]) == 1
    assert hist.epoch == [1, 2, 3]


def test_a_sane_run_warns_nothing(recwarn):
    run(epochs=2)
    assert not [w for w in recwarn if issubclass(w.category, (LossExplosionWarning,
                                                             RuntimeWarning))]


def test_a_bad_label_is_found_before_anything_changes():
    """Item 11: found when its batch came round, after earlier steps, with a batch index."""
    x, y = images(40, 1)
    y[37] = 3  # the model has 3 classes
    model = small_cnn(0)
    before = model.state_dict()   # batch norm's running statistics included
    with pytest.raises(ValueError, match=r"^train_data: y\[37\] is 3, but the model has 3 "
                                         r"classes \(labels must be in \[0, 3\)\)"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, y), epochs=1,
            batch_size=8, rng=0)
    assert states_equal(before, model.state_dict())


def test_nan_in_the_data_is_named_not_reported_as_logits():
    x, y = images(40, 1)
    x[21, 0, 4, 5] = np.nan
    model = small_cnn(0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"^train_data: x must be finite, got nan at index "
                                         r"\(21, 0, 4, 5\)"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, y), epochs=1,
            batch_size=8, rng=0)
    assert states_equal(before, model.state_dict())


def test_a_model_without_output_shape_is_checked_with_one_evaluation_pass():
    class Plain(Module):  # no output_shape: the class count comes from a forward pass
        def forward(self, x):
            return self._save(None, x.copy())

        def backward(self, dout):
            self._load(dout)
            return dout.copy()

    x, y = blobs(10, 0)
    model = Sequential(Linear(2, 2, rng=0, dtype=F64), BatchNorm1d(2, dtype=F64), Plain())
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"^train_data: y\[4\] is 2, but the model has 2"):
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, np.where(
            np.arange(10) == 4, 2, y)), epochs=1, batch_size=5, rng=0)
    assert states_equal(before, model.state_dict())
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (x, y), epochs=1,
        batch_size=5, rng=0)


def test_shape_only_models_are_refused_wherever_values_are_read():
    """Item 5: predict/evaluate returned zeros and "accuracy 0.5" for a meta model."""
    from cnnlab.init import meta
    with meta():
        model = Sequential(Linear(2, 3), ReLU(), Linear(3, 2))
    x, y = blobs(4, 0)
    for call in (lambda: predict(model, x), lambda: evaluate(model, CrossEntropyLoss(), (x, y)),
                 lambda: fit(model, CrossEntropyLoss(), None, (x, y), epochs=1, batch_size=2,
                             rng=0)):
        with pytest.raises(RuntimeError, match=r"^model: Sequential was built inside "
                                               r"cnnlab.init.meta\(\)"):
            call()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint64])
def test_confusion_matrix_counts_in_int64_whatever_the_label_dtype(dtype):
    """Item 6: with uint8 labels and 20 classes a (13, 0) sample was counted at (0, 4)."""
    y_true = np.array([13, 19, 0, 13], dtype=dtype)
    y_pred = np.array([0, 19, 7, 0], dtype=dtype)
    cm = confusion_matrix(y_true, y_pred, 20)
    assert cm.dtype == np.int64 and cm.sum() == 4
    assert cm[13, 0] == 2 and cm[19, 19] == 1 and cm[0, 7] == 1 and cm[0, 4] == 0


def test_a_shared_layer_is_one_set_of_parameters():
    """Item 12: a layer used twice yielded its parameters twice and was stepped twice."""
    shared = Linear(2, 2, rng=0, dtype=F64)
    model = Sequential(shared, ReLU(), shared)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert model.num_parameters() == 6 and list(model.state_dict()) == ["0.weight", "0.bias"]
    opt = SGD(model.parameters(), lr=0.5)
    shared.weight.grad = np.ones((2, 2))
    shared.bias.grad = np.ones(2)
    w = shared.weight.data.copy()
    opt.step()
    np.testing.assert_array_equal(shared.weight.data, w - 0.5)   # one step, not two
    model(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match=r"^layers\[0\] and layers\[2\] are the same Linear"):
        model.backward(np.ones((1, 2)))


def test_a_nan_gradient_does_not_poison_adam():
    p, q = Parameter(np.ones(3)), Parameter(np.zeros(2))
    opt = Adam([p, q], lr=0.1)
    p.grad, q.grad = np.full(3, 0.5), np.ones(2)
    opt.step()
    state = [{k: np.copy(v) for k, v in s.items()} for s in opt.state]
    values = (p.data.copy(), q.data.copy())
    q.grad = np.array([1.0, np.inf])  # the second parameter: the first must not move either
    with pytest.raises(FloatingPointError, match=r"^params\[1\] \(2,\): the gradient is not "
                                                 r"finite \(inf at index \(1,\)\)"):
        opt.step()
    np.testing.assert_array_equal(p.data, values[0])
    np.testing.assert_array_equal(q.data, values[1])
    for now, then in zip(opt.state, state, strict=True):
        assert now.keys() == then.keys()
        assert all(np.array_equal(now[k], then[k]) for k in now)


def test_a_nan_input_leaves_batch_norm_statistics_alone():
    bn = BatchNorm2d(3, dtype=F64)
    bn(np.random.default_rng(0).standard_normal((4, 3, 2, 2)))
    stats = (bn.running_mean.copy(), bn.running_var.copy())
    x = np.ones((4, 3, 2, 2))
    x[2, 1, 0, 1] = np.nan
    with pytest.raises(FloatingPointError, match=r"^x holds nan at index \(2, 1, 0, 1\)"):
        bn(x)
    np.testing.assert_array_equal(bn.running_mean, stats[0])
    np.testing.assert_array_equal(bn.running_var, stats[1])


DETERMINISM = """
import numpy as np, sys
sys.path.insert(0, {tests!r})
from test_train import run
model, hist = run(epochs=2)
print(repr(hist.train_loss), repr(float(model[-1].weight.data.sum())))
"""


def test_same_seed_same_bits_across_processes_with_the_same_blas_threads():
    """Item 18: bit for bit on one machine with one BLAS thread count (the docstring says so)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import cnnlab.train
    doc = " ".join(cnnlab.train.__doc__.split())
    assert "bit for bit, on the same machine with the same NumPy build and the same number of " \
           "BLAS threads" in doc and "OPENBLAS_NUM_THREADS" in doc
    code = DETERMINISM.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120, check=True).stdout for _ in range(2)]
    assert outs[0] == outs[1] and outs[0]
