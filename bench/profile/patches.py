"""Candidate rewrites of SCNet pieces, applied by monkeypatching (see ab.py); `fusion_dup` restores the FusionLayer before issue 16 (its input duplicated on channels)."""
import torch, torch.nn as nn, torch.nn.functional as F
from mss.models import scnet as sc

ORIG = {(c, 'forward'): getattr(c, 'forward') for c in (sc.DualPathRNN, sc.FusionLayer, sc.SDBlock, sc.SULayer,
                                                        sc.FeatureConversion, sc.ConvolutionModule, sc.SDLayer)}

# ---- L1: FusionLayer: conv over [s; s] == conv over s with the two weight halves summed (no repeat, half the FLOPs)
def fusion_fold(self, x, skip):
    w, C = self.conv.weight, x.shape[1]
    return F.glu(F.conv2d(x + skip, w[:, :C] + w[:, C:], self.conv.bias, padding=1), dim=1)

# ---- L2: DualPathRNN with time-major LSTM calls (no transposes inside the LSTM, contiguous output -> one addmm)
def dp_timemajor(self, x):
    B, C, Fr, T = x.shape
    (l0, l1), (f0, f1) = self.lstm_layers, self.linear_layers
    y = self.norm_layers[0](x).permute(2, 0, 3, 1).reshape(Fr, B * T, C)
    h = l0(y)[0]
    z = torch.addmm(f0.bias, h.view(Fr * B * T, -1), f0.weight.t()).view(Fr, B, T, C)
    x = x + z.permute(1, 3, 0, 2)
    y = self.norm_layers[1](x).permute(3, 0, 2, 1).reshape(T, B * Fr, C)
    h = l1(y)[0]
    z = torch.addmm(f1.bias, h.view(T * B * Fr, -1), f1.weight.t()).view(T, B, Fr, C)
    return x + z.permute(1, 3, 2, 0)

# ---- L2b: as L2, and the residual add done in place into the fresh GEMM output (one allocation less per pass)
def dp_timemajor_inplace(self, x):
    B, C, Fr, T = x.shape
    (l0, l1), (f0, f1) = self.lstm_layers, self.linear_layers
    y = self.norm_layers[0](x).permute(2, 0, 3, 1).reshape(Fr, B * T, C)
    h = l0(y)[0]; del y
    z = torch.addmm(f0.bias, h.view(Fr * B * T, -1), f0.weight.t()).view(Fr, B, T, C); del h
    x = z.permute(1, 3, 0, 2).add_(x)                      # (B, C, Fr, T) view of z's memory
    y = self.norm_layers[1](x).permute(3, 0, 2, 1).reshape(T, B * Fr, C)
    h = l1(y)[0]; del y
    z = torch.addmm(f1.bias, h.view(T * B * Fr, -1), f1.weight.t()).view(T, B, Fr, C); del h
    return z.permute(1, 3, 2, 0).add_(x).contiguous()

# ---- L2c: batch-first (as now) but the linear as one addmm on a contiguous LSTM output
def dp_addmm(self, x):
    B, C, Fr, T = x.shape
    (l0, l1), (f0, f1) = self.lstm_layers, self.linear_layers
    y = self.norm_layers[0](x).permute(0, 3, 2, 1).reshape(B * T, Fr, C)
    h = l0(y)[0].contiguous()
    x = x + torch.addmm(f0.bias, h.view(-1, h.shape[-1]), f0.weight.t()).view(B, T, Fr, C).permute(0, 3, 2, 1)
    y = self.norm_layers[1](x).permute(0, 2, 3, 1).reshape(B * Fr, T, C)
    h = l1(y)[0].contiguous()
    return x + torch.addmm(f1.bias, h.view(-1, h.shape[-1]), f1.weight.t()).view(B, Fr, T, C).permute(0, 3, 1, 2)

# ---- L3: ConvolutionModule residual added in place into the layer output (no fresh allocation)
def cm_inplace(self, x):
    for layer in self.layers: x = layer(x).add_(x)
    return x

# ---- L4: SDBlock writes each band's GELU output into one preallocated skip (no cat)
def sd_prealloc(self, x):
    bands, in_lens = self.SDlayer(x)
    B, C, _, T = bands[0].shape
    fs = [b.shape[2] for b in bands]
    skip = x.new_empty(B, C, sum(fs), T); a = 0
    for conv, band, f in zip(self.conv_modules, bands, fs):
        y = conv(band.permute(0, 2, 1, 3).reshape(B * f, C, T))
        skip[:, :, a:a + f] = F.gelu(y).view(B, f, C, T).permute(0, 2, 1, 3); a += f
    return self.globalconv(skip), skip, fs, in_lens

# ---- L5: SULayer writes each band's trimmed output into one preallocated tensor (no cat)
def su_prealloc(self, x, lens, in_lens):
    a, o, out = 0, 0, None
    for i, convtr in enumerate(self.convtrs):
        b = a + lens[i] if i < len(self.convtrs) - 1 else x.shape[2]
        y = convtr(x[:, :, a:b]); a = b
        if out is None: out = y.new_empty(y.shape[0], y.shape[1], sum(in_lens), y.shape[3])
        d = abs(in_lens[i] - y.shape[2]) // 2
        out[:, :, o:o + in_lens[i]] = y[:, :, d:d + in_lens[i]]; o += in_lens[i]
    return out

# ---- L6: FeatureConversion forward via view_as_real (one permuted copy instead of real/imag + cat)
def fc_viewreal(self, x):
    x = x.float()
    if self.inverse:
        c = self.channels // 2
        return torch.fft.irfft(torch.complex(x[:, :c], x[:, c:]), dim=3, norm='ortho')
    y = torch.view_as_real(torch.fft.rfft(x, dim=3, norm='ortho'))   # (B, C, F, T', 2)
    B, C, Fr, T, _ = y.shape
    return y.permute(0, 4, 1, 2, 3).reshape(B, 2 * C, Fr, T)

VARIANTS = {
    'fusion_fold': [(sc.FusionLayer, fusion_fold)],
    'dp_timemajor': [(sc.DualPathRNN, dp_timemajor)],
    'dp_timemajor_inplace': [(sc.DualPathRNN, dp_timemajor_inplace)],
    'dp_addmm': [(sc.DualPathRNN, dp_addmm)],
    'cm_inplace': [(sc.ConvolutionModule, cm_inplace)],
    'sd_prealloc': [(sc.SDBlock, sd_prealloc)],
    'su_prealloc': [(sc.SULayer, su_prealloc)],
    'fc_viewreal': [(sc.FeatureConversion, fc_viewreal)],
}
TIME_MAJOR = {'dp_timemajor', 'dp_timemajor_inplace'}

def reset(model=None):
    for (c, n), f in ORIG.items(): setattr(c, n, f)
    if model is not None:
        for m in model.modules():
            if isinstance(m, nn.LSTM): m.batch_first = True

def apply(names, model=None):
    "Reset to the original code, then apply the named variants ('+'- or ','-separated)."
    reset(model)
    for n in names:
        if not n or n == 'base': continue
        for c, f in VARIANTS[n]: setattr(c, 'forward', f)
        if n in TIME_MAJOR and model is not None:
            for m in model.modules():
                if isinstance(m, nn.LSTM): m.batch_first = False

# ---- the code before the FusionLayer change (for before/after profiles once the notebook has the fold)
def fusion_dup(self, x, skip):
    return F.glu(self.conv((x + skip).repeat(1, 2, 1, 1)), dim=1)
VARIANTS['fusion_dup'] = [(sc.FusionLayer, fusion_dup)]
